import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';

/** The calls the saga makes to the sandbox's systems, each with a fault switch of its own. */
export const SandboxRoute = z.enum([
  'catalog',
  'reserve',
  'release',
  'create-payment',
  'get-payment',
  'find-payments',
  'refund',
  'void',
  'fulfillment',
  'cancel-fulfillment',
  'notifications',
  'order-webhooks',
]);
export type SandboxRoute = z.infer<typeof SandboxRoute>;

/**
 * What a route does instead of its normal answer, until switched off:
 * - `status`: answers that HTTP status with `{ code, message }` and does nothing else;
 * - `bad-body`: does its work, then answers its usual 2xx with a body that matches no contract;
 * - `hang`: does its work and answers only after `ms` (past the caller's timeout: the effect happens, the
 *   answer is lost).
 */
export const RouteFault = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('status'),
    status: z.int().min(400).max(599),
    code: z.string().min(1).max(100).default('INJECTED_FAULT'),
  }),
  z.strictObject({ kind: z.literal('bad-body') }),
  z.strictObject({ kind: z.literal('hang'), ms: z.int().min(0).max(60_000) }),
]);
export type RouteFault = z.infer<typeof RouteFault>;
/** A fault as a caller switches it on (`code` may be left out). */
export type RouteFaultSetting = z.input<typeof RouteFault>;

/** A body no system's contract accepts: right status, wrong shape. */
const BAD_BODY = { unexpected: 'this answer matches no contract' };

/** The per-route fault switches of one sandbox. */
export class RouteFaults {
  private readonly faults = new Map<SandboxRoute, RouteFault>();

  constructor(private readonly later: (ms: number, fn: () => void) => void) {}

  set(route: SandboxRoute, fault: RouteFault | null): void {
    if (fault) this.faults.set(route, fault);
    else this.faults.delete(route);
  }

  clear(): void {
    this.faults.clear();
  }

  /** Express middleware for `route`: passes through unless its switch is on. */
  on(route: SandboxRoute): RequestHandler {
    return (_req: Request, res: Response, next: NextFunction) => {
      const fault = this.faults.get(route);
      if (!fault) return next();
      switch (fault.kind) {
        case 'status':
          return void res
            .status(fault.status)
            .json({ code: fault.code, message: `the sandbox's ${route} fault switch answered ${fault.status}` });
        case 'bad-body': {
          const json = res.json.bind(res);
          // Its usual answer only: an error it answers (a 404, a 409) stays what it is.
          res.json = (body: unknown) => json(res.statusCode < 300 ? BAD_BODY : body);
          return next();
        }
        case 'hang':
          return this.later(fault.ms, next);
      }
    };
  }
}
