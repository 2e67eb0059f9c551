import type { Request } from 'express';

/**
 * The route a request matched, as a pattern (`/orders/:orderId`): what metrics, logs and spans name a
 * request by. Never the raw path, which carries ids (unbounded series) and is the caller's text.
 */
export function routeOf(req: Request): string {
  const pattern = req.route?.path as string | undefined;
  return pattern ? `${req.baseUrl}${pattern}` : 'unmatched';
}
