/**
 * Transport only: one HTTP exchange with the API, no session logic and no state (the auth store
 * owns login, ensureSession and logout, and builds every URL from the plugin's apiBase + basePath).
 * A host's own request wrapper may reuse it: `rawRequest({ method, url, token })` with the token of
 * `useWluAuthStore().withSession(...)` (one new session and one retry on a 401).
 * - the token, when given, in `Authorization: Bearer …`
 * - a ~10 s timeout (uni's own `timeout` plus a timer, whichever fires first)
 * - the error envelope `{ error: { code, message } }` becomes an ApiError with Chinese text
 * - only methods `wx.request` has (no PATCH: WeChat answers `request:fail method is invalid`)
 */
import { ERROR_CODES, isErrorBody, type ErrorCode } from '../shared/errors';
import { REQUEST_TIMEOUT_MS } from '../options';

export const MSG_NETWORK = '网络不可用，请重试';
export const MSG_LOGIN_FAILED = '登录失败，请稍后再试';
export const MSG_BLOCKED = ERROR_CODES.wechat_user_blocked.message; // the API's own text for a blocked account
export const MSG_SERVER = '服务暂时不可用，请稍后再试';

/** API error codes plus the client's own: no network / timeout, and an unreadable response. */
export type ClientErrorCode = ErrorCode | 'network_error' | 'bad_response' | 'login_unavailable' | 'login_required';

export class ApiError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** seconds the server asked to wait (Retry-After of a 429 / 503), when it said */
  readonly retryAfter?: number;
  constructor(code: ClientErrorCode, status: number, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
  get isNetwork(): boolean {
    return this.code === 'network_error';
  }
}

// ---------------------------------------------------------------------------------------------
// One HTTP exchange, no session logic.

/**
 * The methods wx.request has: OPTIONS GET HEAD POST PUT DELETE TRACE CONNECT (uni's own type).
 * PATCH is not one of them; profile updates use PUT <basePath>/me.
 */
export type Method = NonNullable<UniApp.RequestOptions['method']>;

export interface RawRequest {
  method: Method;
  /** the full URL (useWluAuthStore().url(path) builds `${apiBase}${basePath}${path}`) */
  url: string;
  data?: unknown;
  token?: string | null;
}

function envelopeError(status: number, body: unknown, retryAfter?: number): ApiError {
  if (isErrorBody(body)) {
    const known = ERROR_CODES[body.error.code as ErrorCode];
    const message = body.error.message || known?.message || MSG_SERVER;
    return new ApiError(body.error.code, status, message, retryAfter);
  }
  if (status === 401) return new ApiError('unauthorized', status, ERROR_CODES.unauthorized.message);
  return new ApiError('bad_response', status, status >= 500 ? MSG_SERVER : '请求失败，请稍后再试');
}

function parseBody(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  if (!data) return null;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

function headersFor(token: string | null | undefined, json: boolean): Record<string, string> {
  const header: Record<string, string> = {};
  if (json) header['content-type'] = 'application/json';
  if (token) header.authorization = `Bearer ${token}`;
  return header;
}

type Abortable = { abort?: () => void } | void;

/**
 * Settles once: the uni callbacks or the timer, whichever comes first. Timeouts and transport
 * failures (`request:fail …`) both become network_error / 网络不可用，请重试.
 */
function settleOnce<T>(start: (ok: (value: T) => void, ko: (error: unknown) => void) => Abortable): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let task: Abortable;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      try {
        task?.abort?.();
      } catch {
        // already finished
      }
      reject(new ApiError('network_error', 0, MSG_NETWORK));
    }, REQUEST_TIMEOUT_MS);
    const ok = (value: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(value);
    };
    const ko = (error: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(error);
    };
    try {
      task = start(ok, ko);
    } catch {
      ko(new ApiError('network_error', 0, MSG_NETWORK));
    }
  });
}

/** Retry-After in seconds (the API sends seconds, never a date); undefined when absent or unreadable. */
function retryAfterOf(header: unknown): number | undefined {
  if (!header || typeof header !== 'object') return undefined;
  const entry = Object.entries(header as Record<string, unknown>).find(([name]) => name.toLowerCase() === 'retry-after');
  const seconds = Number(entry?.[1]);
  return entry && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function settleResponse<T>(statusCode: number, data: unknown, ok: (value: T) => void, ko: (error: unknown) => void, header?: unknown): void {
  const body = parseBody(data);
  if (statusCode >= 200 && statusCode < 300) ok((statusCode === 204 ? undefined : body) as T);
  else ko(envelopeError(statusCode, body, retryAfterOf(header)));
}

export function rawRequest<T>({ method, url, data, token }: RawRequest): Promise<T> {
  return settleOnce<T>((ok, ko) =>
    uni.request({
      url,
      method,
      data: data as UniApp.RequestOptions['data'],
      header: headersFor(token, data !== undefined),
      timeout: REQUEST_TIMEOUT_MS,
      dataType: 'json',
      success: (res) => settleResponse(res.statusCode, res.data, ok, ko, res.header),
      fail: () => ko(new ApiError('network_error', 0, MSG_NETWORK)),
    }),
  );
}

export interface RawUpload {
  /** the full URL */
  url: string;
  filePath: string;
  name?: string;
  token?: string | null;
}

export function rawUpload<T>({ url, filePath, name = 'file', token }: RawUpload): Promise<T> {
  return settleOnce<T>((ok, ko) =>
    uni.uploadFile({
      url,
      filePath,
      name,
      header: headersFor(token, false),
      timeout: REQUEST_TIMEOUT_MS,
      success: (res) => settleResponse(res.statusCode, res.data, ok, ko),
      fail: () => ko(new ApiError('network_error', 0, MSG_NETWORK)),
    }),
  );
}

/** Text for a person: blocked / network / privacy refused / anything else during login. */
export function loginErrorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'wechat_user_blocked') return MSG_BLOCKED;
    if (error.isNetwork) return MSG_NETWORK;
    if (error.code === 'login_unavailable' || error.code === 'login_required') return error.message;
  }
  return MSG_LOGIN_FAILED;
}

/** Text for a person after any other call. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return '操作失败，请稍后再试';
}

