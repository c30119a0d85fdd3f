import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
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
  /**
   * A WHATWG fetch to send through instead of node:http(s) (tests, or a runtime without node:http).
   * Without it every call goes over node:http / node:https with keep-alive agents (see `nodeExchange`).
   */
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

/** One HTTP exchange, whatever sends it: the status and the whole body as text. */
interface Exchanged {
  status: number;
  text: string;
}
type Exchange = (url: URL, method: 'GET' | 'POST', headers: Record<string, string>, body: string | undefined, timeoutMs: number) => Promise<Exchanged>;

/**
 * Why an exchange failed: `timeout` (the deadline passed) or `network` (with the socket's error code
 * when there is one, e.g. ECONNREFUSED); `bodyStarted` once an answer had begun to arrive.
 */
class ExchangeError extends Error {
  constructor(readonly reason: 'timeout' | 'network', message: string, readonly code = '', readonly bodyStarted = false) {
    super(message);
  }
}

export function createTransport(options: TransportOptions): WechatTransport {
  const exchange = options.fetch ? fetchExchange(options.fetch) : nodeExchange;
  const fixedHeaders = { ...options.headers };
  const jsonHeaders = { ...options.headers, 'content-type': 'application/json' };

  async function call<T>(method: 'GET' | 'POST', path: string, query: Record<string, string>, body?: unknown): Promise<T> {
    const started = Date.now();
    let lastError: WechatUnavailableError | undefined;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (const base of options.baseUrls) {
      const url = wechatUrl(base, path);
      // one serialization (searchParams.set re-serializes the URL on every call)
      url.search = new URLSearchParams(query).toString();
      const remaining = options.timeoutMs - (Date.now() - started);
      if (remaining <= 0) break;
      let response: Exchanged;
      try {
        response = await exchange(url, method, payload === undefined ? fixedHeaders : jsonHeaders, payload, remaining);
      } catch (error) {
        const err = error instanceof ExchangeError ? error : new ExchangeError('network', String((error as Error)?.message ?? error));
        const timedOut = err.reason === 'timeout';
        if (err.bodyStarted) {
          // The answer began and then failed: the call was made, so never another access point.
          throw logged(options.logger, new WechatUnavailableError(path, err.reason, 'body could not be read'), started);
        }
        lastError = new WechatUnavailableError(path, err.reason, timedOut ? `no answer within ${options.timeoutMs} ms` : `${err.message} ${err.code}`);
        options.logger.log('warn', 'wechat.request_failed', { path, host: url.host, reason: lastError.reason, message: lastError.message, ms: Date.now() - started });
        // Retrying elsewhere is only safe when the request never left: a code sent once is spent.
        if (!timedOut && NOT_SENT.has(err.code)) continue;
        throw lastError;
      }
      const { status, text } = response;
      if (status >= 500 || status === 429) {
        throw logged(options.logger, new WechatUnavailableError(path, 'http_status', `HTTP ${status}`), started);
      }
      let json: unknown;
      try {
        json = parseWechatJson(text);
      } catch {
        // WeChat answers JSON with a text/plain content type, so the body is parsed whatever the
        // header says; a body that is not JSON means something other than WeChat answered.
        throw logged(options.logger, new WechatUnavailableError(path, 'bad_body', `HTTP ${status}, ${text.length} bytes of non-JSON`), started);
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

// ---------------------------------------------------------------------------------------------
// Sending: node:http(s) by default, a WHATWG fetch when one is given

/**
 * Idle sockets are kept for reuse (no TCP/TLS handshake per call) but closed after 4 s unused, below
 * the usual server idle timeouts (and undici's, which the global fetch used before): a socket the
 * server has already closed is then rarely picked. A server's `Keep-Alive: timeout=N` shortens it.
 */
export const IDLE_SOCKET_MS = 4000;
let httpAgent: HttpAgent | undefined;
let httpsAgent: HttpsAgent | undefined;

/**
 * node:https (and with it node:tls) is loaded on the first https call, not at import: ~2–5 ms of a
 * cold start that /api/auth/health and every function instance would otherwise pay (docs/BENCH.md,
 * "Cold start"). process.getBuiltinModule is synchronous (Node ≥ 20.16).
 */
const https = () => process.getBuiltinModule('node:https');

/** The keep-alive agents of node:http / node:https, one each per process (created on first use). */
export function wechatAgent(tls: boolean): HttpAgent {
  if (tls) return (httpsAgent ??= new (https().Agent)({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' }));
  return (httpAgent ??= new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' }));
}

const REDIRECT = new Set([301, 302, 303, 307, 308]);

/**
 * node:http / node:https with keep-alive agents. The global fetch (undici) cost ~0.25 ms of CPU per
 * call in Request/Response objects, web streams, an AbortSignal and its timer (docs/BENCH.md, "API CPU
 * per login"); this sends the same request: one deadline timer for connect + send + the whole body,
 * redirects refused (WeChat's API never redirects; a redirect means something else answered), a
 * compressed body decoded (none is asked for).
 */
const nodeExchange: Exchange = (url, method, headers, body, timeoutMs) =>
  new Promise<Exchanged>((resolve, reject) => {
    const tls = url.protocol === 'https:';
    const send = tls ? https().request : httpRequest;
    let bodyStarted = false;
    let settled = false;
    const fail = (error: ExchangeError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    const req = send(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        agent: wechatAgent(tls),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (REDIRECT.has(status)) {
          res.resume();
          return fail(new ExchangeError('network', `redirect (HTTP ${status}) refused`));
        }
        bodyStarted = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        // The connection lost before the whole body (a reset, a short Content-Length): never a half body.
        const lost = () => settled || fail(new ExchangeError('network', 'body could not be read', '', true));
        res.on('error', lost);
        res.on('close', lost);
        res.on('end', () => {
          if (settled) return;
          let text: string;
          try {
            text = decode(Buffer.concat(chunks), res.headers['content-encoding']);
          } catch {
            return fail(new ExchangeError('network', 'body could not be decoded', '', true));
          }
          settled = true;
          clearTimeout(timer);
          resolve({ status, text });
        });
      },
    );
    const timer = setTimeout(() => fail(new ExchangeError('timeout', 'deadline passed', '', bodyStarted)), timeoutMs);
    timer.unref?.();
    req.on('error', (error: NodeJS.ErrnoException) => fail(new ExchangeError('network', error.message, error.code ?? '', bodyStarted)));
    req.end(body);
  });

/** The body as text; a compressed one (none is asked for) is decoded, node:zlib loaded only then. */
function decode(raw: Buffer, encoding: string | undefined): string {
  const zlib = () => process.getBuiltinModule('node:zlib');
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return raw.toString('utf8');
    case 'gzip':
    case 'x-gzip':
      return zlib().gunzipSync(raw).toString('utf8');
    case 'deflate':
      return zlib().inflateSync(raw).toString('utf8');
    case 'br':
      return zlib().brotliDecompressSync(raw).toString('utf8');
    default:
      throw new Error(`content-encoding ${encoding} not supported`);
  }
}

/** The same exchange through a WHATWG fetch (an AbortSignal deadline; redirects refused). */
function fetchExchange(doFetch: typeof fetch): Exchange {
  return async (url, method, headers, body, timeoutMs) => {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await doFetch(url, { method, headers, body, signal, redirect: 'error' });
    } catch (error) {
      const err = error as Error & { cause?: { code?: string } };
      const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
      throw new ExchangeError(timedOut ? 'timeout' : 'network', err.message, err.cause?.code ?? '');
    }
    try {
      return { status: response.status, text: await response.text() };
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
      throw new ExchangeError(timedOut ? 'timeout' : 'network', 'body could not be read', '', true);
    }
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

function logged(logger: Logger, error: WechatUnavailableError, started: number): WechatUnavailableError {
  logger.log('warn', 'wechat.unavailable', { path: error.path, reason: error.reason, message: error.message, ms: Date.now() - started });
  return error;
}
