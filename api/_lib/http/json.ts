import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from '../errors.js';

/** Reads a JSON body and validates it; malformed input becomes a clear 400/415, never a crash. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new AppError('unsupported_media_type');
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new AppError('invalid_json');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    throw new AppError('invalid_request', `请求参数不正确：${where} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}
