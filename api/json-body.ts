import express, { type RequestHandler } from 'express';
import { problem } from './problem';

/**
 * Reads a JSON body of at most `limit`, and refuses a body of any other type with a 400. Without the
 * refusal, express leaves such a body unread and the route sees "no body": a cancel sent as a form
 * would go through with its fields dropped, and a missing body reads as missing fields.
 */
export function jsonBody(limit: string): RequestHandler[] {
  const refuseOtherBodies: RequestHandler = (req, res, next) => {
    // Not `req.is()` alone: it counts `Content-Length: 0` as a body, and that is what fetch sends for a bodiless POST.
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is('application/json'))
      return problem(res, 400, 'Body is not JSON', 'send the body as application/json');
    next();
  };
  return [express.json({ limit }), refuseOtherBodies];
}
