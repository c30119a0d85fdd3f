import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * Structured one-line JSON logs. Every line passes through `redact`, so a WeChat secret,
 * access_token, code, session_key, refresh token or bearer token cannot reach the log even when it
 * sits inside an error message or a URL.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogSink = (line: string, level: LogLevel) => void;
export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  /**
   * Whether a line at `level` would be written: lets a hot path skip building the fields of a line
   * nobody reads (e.g. the per-request debug line). A logger without it is treated as writing everything.
   */
  enabled?(level: LogLevel): boolean;
}

/** `logger.enabled(level)`, true for a logger that does not say. */
export function logs(logger: Logger, level: LogLevel): boolean {
  return logger.enabled?.(level) ?? true;
}

const SECRET_NAMES = ['x-relay-key', 'relayKey', 'secret', 'appsecret', 'access_token', 'js_code', 'code', 'session_key', 'sessionKey', 'wxSessionKey', 'refresh_token', 'token', 'authorization', 'encryptedData', 'iv'];
const SECRET_FIELD = new RegExp(`^(${SECRET_NAMES.join('|')})$`, 'i');
const QUERY_PARAM = /([?&](?:secret|access_token|js_code|code|session_key|refresh_token|token)=)[^&\s"'#]*/gi;
const JSON_FIELD = /("(?:secret|access_token|js_code|code|session_key|refresh_token|token)"\s*:\s*")[^"]*(")/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

export function redact(text: string): string {
  return text.replace(QUERY_PARAM, '$1***').replace(JSON_FIELD, '$1***$2').replace(BEARER, '$1***');
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_FIELD.test(k) ? '***' : scrub(v, depth + 1)]),
  );
}

/** The request being served: every log line written while it runs carries its id (`requestId`). */
const requestScope = new AsyncLocalStorage<{ requestId: string }>();
/** An id a proxy in front may pass on (nginx `$request_id`, a CDN's trace id): short and plain, else ignored. */
const FORWARDED_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** The id of one request: the proxy's `x-request-id`, else Vercel's `x-vercel-id`, else a new UUID. */
export function pickRequestId(...candidates: (string | undefined | null)[]): string {
  return candidates.find((id): id is string => typeof id === 'string' && FORWARDED_ID.test(id)) ?? randomUUID();
}

export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return requestScope.run({ requestId }, fn);
}

export function currentRequestId(): string | undefined {
  return requestScope.getStore()?.requestId;
}

const defaultSink: LogSink = (line, level) => (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');

export function createLogger(sink: LogSink = defaultSink, minLevel: LogLevel = 'info'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const enabled = (level: LogLevel) => order.indexOf(level) >= order.indexOf(minLevel);
  return {
    enabled,
    log(level, event, fields = {}) {
      if (!enabled(level)) return;
      const requestId = currentRequestId();
      const line = JSON.stringify({ t: new Date().toISOString(), level, event, ...(requestId ? { requestId } : {}), ...(scrub(fields) as object) });
      sink(redact(line), level);
    },
  };
}

export const silentLogger: Logger = { log() {}, enabled: () => false };
