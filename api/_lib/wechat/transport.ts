import { redact, type Logger } from '../log.js';

/**
 * The one HTTP client for WeChat's server APIs (wechatpy's "transport" layer). Every call has a
 * timeout, every failure becomes one of two closed error types, and nothing secret leaves it:
 * URLs and messages are redacted before they are logged or put into an error.
 */
export class WechatApiError extends Error {
  constructor(readonly path: string, readonly errcode: number, readonly errmsg: string) {
    super(redact(`WeChat ${path} errcode ${errcode}: ${errmsg}`));
    this.name = 'WechatApiError';
  }
}

/**
 * WeChat could not answer usefully now: `timeout` / `network` / `http_status` / `bad_body` come from
 * the transport (or a reply without the fields the API promises); `token_refresh` from the
 * access_token holder (daily stable_token quota, another instance's refresh taking too long, a forced
 * refresh refused by its own limits).
 */
export type UnavailableReason = 'timeout' | 'network' | 'http_status' | 'bad_body' | 'token_refresh';
export class WechatUnavailableError extends Error {
  constructor(readonly path: string, readonly reason: UnavailableReason, detail: string, options?: { cause?: unknown }) {
    super(redact(`WeChat ${path} unavailable (${reason}): ${detail}`), options);
    this.name = 'WechatUnavailableError';
  }
}

/**
 * WeChat refused this server's configuration (access_token endpoints: AppID/AppSecret refused, or
 * this server's IP is not on the whitelist): no retry helps, an administrator must act.
 */
export type ConfigReason = 'credentials' | 'ip_not_whitelisted';
export class WechatConfigError extends Error {
  constructor(readonly path: string, readonly reason: ConfigReason, readonly errcode: number, options?: { cause?: unknown }) {
    super(redact(`WeChat ${path} refused the configuration (${reason}, errcode ${errcode})`), options);
    this.name = 'WechatConfigError';
  }
}

export interface TransportOptions {
  /** Access points in order of preference, e.g. https://api.weixin.qq.com then https://api2.weixin.qq.com. */
  baseUrls: string[];
  timeoutMs: number;
  logger: Logger;
  fetch?: typeof fetch;
  /** sent with every request (the token relay's `x-relay-key`); never logged */
  headers?: Record<string, string>;
}

export interface WechatTransport {
  get<T>(path: string, query: Record<string, string>): Promise<T>;
  postJson<T>(path: string, query: Record<string, string>, body: unknown): Promise<T>;
}

/** Failures where the request provably never reached the server, so another access point may be tried. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function createTransport(options: TransportOptions): WechatTransport {
  const doFetch = options.fetch ?? fetch;

  async function call<T>(method: 'GET' | 'POST', path: string, query: Record<string, string>, body?: unknown): Promise<T> {
    const started = Date.now();
    let lastError: WechatUnavailableError | undefined;
    for (const base of options.baseUrls) {
      const url = wechatUrl(base, path);
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      const remaining = options.timeoutMs - (Date.now() - started);
      if (remaining <= 0) break;
      let response: Response;
      try {
        response = await doFetch(url, {
          method,
          headers: { ...options.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(remaining),
          redirect: 'error',
        });
      } catch (error) {
        const err = error as Error & { cause?: { code?: string } };
        const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
        lastError = new WechatUnavailableError(path, timedOut ? 'timeout' : 'network', timedOut ? `no answer within ${options.timeoutMs} ms` : `${err.message} ${err.cause?.code ?? ''}`);
        options.logger.log('warn', 'wechat.request_failed', { path, host: url.host, reason: lastError.reason, message: lastError.message, ms: Date.now() - started });
        // Retrying elsewhere is only safe when the request never left: a code sent once is spent.
        if (!timedOut && NOT_SENT.has(err.cause?.code ?? '')) continue;
        throw lastError;
      }
      const text = await readText(response, path);
      if (response.status >= 500 || response.status === 429) {
        throw logged(options.logger, new WechatUnavailableError(path, 'http_status', `HTTP ${response.status}`), started);
      }
      let json: unknown;
      try {
        json = parseWechatJson(text);
      } catch {
        // WeChat answers JSON with a text/plain content type, so the body is parsed whatever the
        // header says; a body that is not JSON means something other than WeChat answered.
        throw logged(options.logger, new WechatUnavailableError(path, 'bad_body', `HTTP ${response.status}, ${text.length} bytes of non-JSON`), started);
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json)) {
        throw logged(options.logger, new WechatUnavailableError(path, 'bad_body', 'JSON body is not an object'), started);
      }
      const { errcode, errmsg } = json as { errcode?: unknown; errmsg?: unknown };
      if (errcode !== undefined && errcode !== 0 && errcode !== '0') {
        const error = new WechatApiError(path, Number(errcode), String(errmsg ?? ''));
        options.logger.log('warn', 'wechat.api_error', { path, errcode: error.errcode, errmsg: error.errmsg, ms: Date.now() - started });
        throw error;
      }
      options.logger.log('debug', 'wechat.ok', { path, ms: Date.now() - started });
      return json as T;
    }
    throw lastError ?? new WechatUnavailableError(path, 'timeout', `no answer within ${options.timeoutMs} ms`);
  }

  return {
    get: (path, query) => call('GET', path, query),
    postJson: (path, query, body) => call('POST', path, query, body),
  };
}

/**
 * The URL of `path` under a configured base, keeping the base's own path: a relay at
 * https://relay.example.com/wechat serves /cgi-bin/stable_token at /wechat/cgi-bin/stable_token
 * (`new URL('/cgi-bin/…', base)` would silently drop the prefix).
 */
export function wechatUrl(base: string, path: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  url.search = '';
  url.hash = '';
  return url;
}

/**
 * JSON.parse, and once more without raw control characters when that fails: WeChat has sent
 * nicknames with unescaped control characters inside sns/userinfo strings, which JSON forbids.
 * Tab/CR/LF become spaces (valid whitespace outside strings); the others are dropped.
 */
export function parseWechatJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u001f\u007f]/.test(text)) throw error;
    // eslint-disable-next-line no-control-regex
    return JSON.parse(text.replace(/[\t\n\r]/g, ' ').replace(/[\u0000-\u001f\u007f]/g, ''));
  }
}

async function readText(response: Response, path: string): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
    throw new WechatUnavailableError(path, timedOut ? 'timeout' : 'network', 'body could not be read');
  }
}

function logged(logger: Logger, error: WechatUnavailableError, started: number): WechatUnavailableError {
  logger.log('warn', 'wechat.unavailable', { path: error.path, reason: error.reason, message: error.message, ms: Date.now() - started });
  return error;
}
