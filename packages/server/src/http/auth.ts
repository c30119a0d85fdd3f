import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { SessionManager } from '../sessions/sessions.js';
import type { SessionRecord, UserRecord } from '../store/types.js';

export interface AuthVariables {
  user: UserRecord;
  session: SessionRecord;
  token: string;
}

/**
 * Tokens travel only in `Authorization: Bearer <token>` — never in URLs or cookies. The scheme
 * name is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are the same scheme.
 */
export function readBearerToken(header: string | undefined): string | null {
  const match = /^Bearer +([^\s]+) *$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

export function requireSession(sessions: SessionManager): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const token = readBearerToken(c.req.header('authorization'));
    if (!token) throw new AppError('unauthorized');
    const { session, user } = await sessions.validate(token);
    if (!session) throw new AppError('unauthorized');
    c.set('user', user);
    c.set('session', session);
    c.set('token', token);
    await next();
  };
}
