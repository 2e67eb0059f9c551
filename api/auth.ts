import type { NextFunction, Request, Response } from 'express';
import type { ApiKeys, Scope } from '../config';
import { problem } from './problem';

/** Who called: the API key's name (recorded on operator actions) and its scopes. */
export interface Caller {
  name: string;
  scopes: readonly Scope[];
}

/** The API key a request's bearer token names, if any. */
export function apiKeyOf(apiKeys: ApiKeys): (req: Request) => ApiKeys[string] | undefined {
  const keys = new Map(Object.entries(apiKeys));
  return (req) => {
    const match = /^Bearer ([^\s]+)$/.exec(req.get('authorization') ?? '');
    return match ? keys.get(match[1]!) : undefined;
  };
}

/** Bearer-token auth (docs/API.md, "Authentication"): 401 without a known token, 403 without the route's scope. */
/** A route's guard: a valid token holding `scope`, or one of `scope` when it is a list. */
export function requireScope(apiKeys: ApiKeys, scope: Scope | readonly Scope[]) {
  const keyOf = apiKeyOf(apiKeys);
  const allowed: readonly Scope[] = typeof scope === 'string' ? [scope] : scope;
  return (req: Request, res: Response, next: NextFunction): void => {
    const key = keyOf(req);
    if (!key) {
      res.set('WWW-Authenticate', 'Bearer');
      return problem(res, 401, 'Unauthorized', 'a valid bearer token is required');
    }
    if (!allowed.some((s) => key.scopes.includes(s))) {
      return problem(res, 403, 'Forbidden', `this token lacks the ${allowed.join(' or ')} scope`);
    }
    res.locals.caller = { name: key.name, scopes: key.scopes } satisfies Caller;
    next();
  };
}

export function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}
