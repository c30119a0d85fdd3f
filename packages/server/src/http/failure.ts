import type { Context } from 'hono';
import { ERROR_CODES, type ErrorBody, type ErrorCode } from '../../../../shared/errors.js';
import type { AppError } from '../errors.js';
import { currentRequestId, type Logger, type LogLevel } from '../log.js';
import { toAppError } from './errors.js';

/**
 * The one failure policy of the HTTP edge. The mapping is `toAppError` (errors.ts); this decides
 * the rest, the same way at every edge — onError (JSON envelope), the browser doors' redirect back
 * to the login page, the official account's push endpoint and the phone's PC-login pages:
 *   - an error toAppError does not know is a bug: internal_error (500), logged at `error` with the error;
 *   - a known failure on our side or WeChat's (status ≥ 500): logged at `warn` with its cause;
 *   - the client's own failure (status < 500): logged at `info` with its code.
 * Each edge renders the failure in its own form (JSON, a redirect, an HTML page) from `code`,
 * `status` and `message`.
 */
export interface Failure {
  /** the known failure; null: a bug */
  known: AppError | null;
  code: ErrorCode;
  status: number;
  /** the Chinese message the person sees */
  message: string;
  /** the level the policy logs it at */
  level: LogLevel;
}

export function failureOf(error: unknown): Failure {
  const known = toAppError(error);
  if (!known) return { known: null, code: 'internal_error', status: 500, message: ERROR_CODES.internal_error.message, level: 'error' };
  return { known, code: known.code, status: known.status, message: known.message, level: known.status >= 500 ? 'warn' : 'info' };
}

/**
 * Logs a failure under `event` at the policy's level (or `level` when the edge has a reason to
 * differ, e.g. a forged push is a `warn` though the sender is at fault): a bug with its error, a
 * server-side failure with its cause, a client's failure with its code. Never a secret: causes are
 * errors, which the logger reduces to their name, message and code.
 */
export function logFailure(logger: Logger, event: string, c: Context, failure: Failure, error: unknown, extra: Record<string, unknown> = {}, level: LogLevel = failure.level): void {
  const fields: Record<string, unknown> = { path: c.req.path };
  if (!failure.known) fields.error = error;
  else {
    fields.errorCode = failure.code;
    if (failure.status >= 500) fields.cause = failure.known.cause ?? failure.known;
  }
  logger.log(level, event, { ...fields, ...extra });
}

/** The JSON error envelope (shared/errors.ts ErrorBody) with this request's id; never cached. */
export function errorResponse(c: Context, code: ErrorCode, message?: string, headers?: Record<string, string>) {
  const requestId = currentRequestId();
  const body: ErrorBody = { error: { code, message: message ?? ERROR_CODES[code].message, ...(requestId ? { requestId } : {}) } };
  return c.json(body, ERROR_CODES[code].status as 400, { 'cache-control': 'no-store', ...headers });
}

/** The 503 server_misconfigured body: the problems by option/variable name, never a value (the factory, its middleware, the Node adapter). */
export function misconfiguredBody(problems: readonly string[]): ErrorBody {
  return { error: { code: 'server_misconfigured', message: `${ERROR_CODES.server_misconfigured.message}：${problems.join('；')}` } };
}
