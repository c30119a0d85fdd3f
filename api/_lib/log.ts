/**
 * Structured one-line JSON logs. Every line passes through `redact`, so a WeChat secret,
 * access_token, code, session_key, refresh token or bearer token cannot reach the log even when it
 * sits inside an error message or a URL.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogSink = (line: string, level: LogLevel) => void;
export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

const SECRET_NAMES = ['secret', 'appsecret', 'access_token', 'js_code', 'code', 'session_key', 'sessionKey', 'refresh_token', 'token', 'authorization', 'encryptedData', 'iv'];
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

const defaultSink: LogSink = (line, level) => (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');

export function createLogger(sink: LogSink = defaultSink, minLevel: LogLevel = 'info'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  return {
    log(level, event, fields = {}) {
      if (order.indexOf(level) < order.indexOf(minLevel)) return;
      const line = JSON.stringify({ t: new Date().toISOString(), level, event, ...(scrub(fields) as object) });
      sink(redact(line), level);
    },
  };
}

export const silentLogger: Logger = { log() {} };
