import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { AppError } from '../errors.js';

// lazySchema lives with the typed records (store/records.ts), the lowest layer that builds schemas
export { lazy, lazySchema, type LazySchema } from '../store/records.js';
import type { LazySchema } from '../store/records.js';

/** The largest JSON body any endpoint reads (limitBody; the avatar upload has its own limit). */
export const MAX_JSON_BYTES = 16 * 1024;

/** What readJson needs of a schema: zod's and zod/mini's both have it. */
export interface BodySchema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** Reads a JSON body and validates it; malformed input becomes a clear 400/415, never a crash. */
export async function readJson<T>(c: Context, lazy: { get(): Promise<BodySchema<T>> }): Promise<T> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new AppError('unsupported_media_type');
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new AppError('invalid_json');
  }
  const parsed = (await lazy.get()).safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    throw new AppError('invalid_request', `请求参数不正确：${where} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}

/**
 * hono/body-limit with a fast path for the common case. Hono's middleware starts by reading
 * `c.req.raw.body`, which makes @hono/node-server build a full WHATWG Request (undici Request, a
 * ReadableStream over the socket, an AbortController) that every later `c.req.text()` then reads
 * through web streams — ~0.1 ms of CPU per login (docs/BENCH.md, "API CPU per login"). A request
 * that states its length (Content-Length, no Transfer-Encoding) is judged from the header alone,
 * exactly as hono's middleware judges it, and its body is later read straight from the socket; a
 * chunked body (no length) still goes through hono's middleware, which counts as it reads.
 * GET and HEAD carry no body and pass.
 */
export function limitBody(maxSize: number, onError: (c: Context) => Response | Promise<Response>): MiddlewareHandler {
  const counting = bodyLimit({ maxSize, onError });
  return async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return parseInt(length, 10) > maxSize ? onError(c) : next();
    }
    return counting(c, next);
  };
}
