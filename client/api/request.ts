/**
 * The one request module of the client: every API call goes through here.
 * - base URL from configuration (config.ts), the token in `Authorization: Bearer …`
 * - a ~10 s timeout (uni's own `timeout` plus a timer, whichever fires first)
 * - the error envelope `{ error: { code, message } }` becomes an ApiError with Chinese text
 * - a single-flight ensureSession(): a missing/expired/revoked token triggers ONE silent
 *   mini-program login (uni.login + API, never getUserProfile) however many requests are
 *   waiting; each request is retried at most once, so a server that keeps answering 401 cannot
 *   make it loop. On H5 the person is sent to the login page instead.
 * - `wechat_user_blocked` (WeChat 40226) is shown, never retried.
 */
import { ERROR_CODES, RELOGIN_CODES, isErrorBody, type ErrorCode } from '../../shared/errors';
import type { LoginResponse, MiniLoginRequest } from '../../shared/api';
import { REQUEST_TIMEOUT_MS, defaultApiBase } from '../config';
import { loginCode } from '../platform/code';
import { isH5 } from '../platform/env';
import { useAuthStore } from '../stores/auth';

export const MSG_NETWORK = '网络不可用，请重试';
export const MSG_LOGIN_FAILED = '登录失败，请稍后再试';
export const MSG_BLOCKED = ERROR_CODES.wechat_user_blocked.message; // 账号存在风险，暂时无法登录
export const MSG_SERVER = '服务暂时不可用，请稍后再试';

/** API error codes plus the client's own: no network / timeout, and an unreadable response. */
export type ClientErrorCode = ErrorCode | 'network_error' | 'bad_response' | 'login_unavailable';

export class ApiError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  constructor(code: ClientErrorCode, status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
  get isNetwork(): boolean {
    return this.code === 'network_error';
  }
}

export interface RequestConfig {
  /** '' on H5 (same origin), the API origin on mp-weixin. */
  baseUrl: string;
  timeoutMs: number;
  /** H5: what to do when a session is needed (default: go to the login page). */
  onLoginRequired: () => void;
}

const config: RequestConfig = {
  baseUrl: defaultApiBase(),
  timeoutMs: REQUEST_TIMEOUT_MS,
  onLoginRequired: goToLoginPage,
};

export function configureRequest(patch: Partial<RequestConfig>): void {
  Object.assign(config, patch);
}

export function getRequestConfig(): Readonly<RequestConfig> {
  return config;
}

function goToLoginPage(): void {
  const pages = typeof getCurrentPages === 'function' ? getCurrentPages() : [];
  const current = pages[pages.length - 1] as { route?: string } | undefined;
  if (current?.route === 'pages/login/index') return;
  uni.reLaunch({ url: '/pages/login/index' });
}

// ---------------------------------------------------------------------------------------------
// One HTTP exchange, no session logic.

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface RawRequest {
  method: Method;
  path: string;
  data?: unknown;
  token?: string | null;
}

function envelopeError(status: number, body: unknown): ApiError {
  if (isErrorBody(body)) {
    const known = ERROR_CODES[body.error.code as ErrorCode];
    const message = body.error.message || known?.message || MSG_SERVER;
    return new ApiError(body.error.code, status, message);
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
    }, config.timeoutMs);
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

function settleResponse<T>(statusCode: number, data: unknown, ok: (value: T) => void, ko: (error: unknown) => void): void {
  const body = parseBody(data);
  if (statusCode >= 200 && statusCode < 300) ok((statusCode === 204 ? undefined : body) as T);
  else ko(envelopeError(statusCode, body));
}

export function rawRequest<T>({ method, path, data, token }: RawRequest): Promise<T> {
  return settleOnce<T>((ok, ko) =>
    uni.request({
      url: config.baseUrl + path,
      method: method as UniApp.RequestOptions['method'],
      data: data as UniApp.RequestOptions['data'],
      header: headersFor(token, data !== undefined),
      timeout: config.timeoutMs,
      dataType: 'json',
      success: (res) => settleResponse(res.statusCode, res.data, ok, ko),
      fail: () => ko(new ApiError('network_error', 0, MSG_NETWORK)),
    }),
  );
}

export interface RawUpload {
  path: string;
  filePath: string;
  name?: string;
  token?: string | null;
}

export function rawUpload<T>({ path, filePath, name = 'file', token }: RawUpload): Promise<T> {
  return settleOnce<T>((ok, ko) =>
    uni.uploadFile({
      url: config.baseUrl + path,
      filePath,
      name,
      header: headersFor(token, false),
      timeout: config.timeoutMs,
      success: (res) => settleResponse(res.statusCode, res.data, ok, ko),
      fail: () => ko(new ApiError('network_error', 0, MSG_NETWORK)),
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Login and the single-flight session.

let inflight: Promise<string> | null = null;
/** Set when WeChat reported the account as high-risk: silent logins stop until the next tap. */
let blocked: ApiError | null = null;

/**
 * Exchanges a wx.login code at the API and stores the session. `code_already_used` /
 * `code_invalid` → one more try with a fresh code; `wechat_user_blocked` is never retried.
 */
export async function miniLogin(options: { code?: string; profile?: MiniLoginRequest['profile'] } = {}): Promise<LoginResponse> {
  let code = options.code ?? (await getCode());
  for (let attempt = 0; ; attempt++) {
    const body: MiniLoginRequest = options.profile ? { code, profile: options.profile } : { code };
    try {
      const res = await rawRequest<LoginResponse>({ method: 'POST', path: '/api/auth/mini/login', data: body });
      blocked = null;
      useAuthStore().setSession(res);
      return res;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'wechat_user_blocked') blocked = error;
      const retry = attempt === 0 && error instanceof ApiError && RELOGIN_CODES.includes(error.code as ErrorCode);
      if (!retry) throw error;
      code = await getCode();
    }
  }
}

async function getCode(): Promise<string> {
  try {
    return await loginCode();
  } catch (error) {
    const errMsg = (error as { errMsg?: string })?.errMsg ?? '';
    // wx.login fails without a network too; anything else is a login failure.
    if (/network|timeout|timed out|offline/i.test(errMsg)) throw new ApiError('network_error', 0, MSG_NETWORK);
    throw new ApiError('login_unavailable', 0, MSG_LOGIN_FAILED);
  }
}

/** Explicit login from the 微信登录 button: clears the "blocked" stop and logs in. */
export function loginFromTap(options: { code?: string; profile?: MiniLoginRequest['profile'] }): Promise<LoginResponse> {
  blocked = null;
  const run = miniLogin(options);
  // Requests waiting for a session join this login instead of starting another one.
  const token = run.then((res) => res.token);
  inflight = token;
  token.then(
    () => {
      if (inflight === token) inflight = null;
    },
    () => {
      if (inflight === token) inflight = null;
    },
  );
  return run;
}

/**
 * A usable token. Logged in → the stored token. Otherwise ONE login for all callers:
 * mp-weixin logs in silently (uni.login + API); H5 goes to the login page and rejects.
 */
export function ensureSession(): Promise<string> {
  const auth = useAuthStore();
  if (auth.isLoggedIn && auth.token) return Promise.resolve(auth.token);
  if (inflight) return inflight;
  if (isH5()) {
    config.onLoginRequired();
    return Promise.reject(new ApiError('unauthorized', 401, ERROR_CODES.unauthorized.message));
  }
  if (blocked) return Promise.reject(blocked);
  const run = miniLogin().then((res) => res.token);
  inflight = run;
  const clear = () => {
    if (inflight === run) inflight = null;
  };
  run.then(clear, clear);
  return run;
}

/** The server refused `token`: forget it, unless another request already replaced it. */
function dropToken(token: string): void {
  const auth = useAuthStore();
  if (auth.token === token) auth.clear();
}

function isUnauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'unauthorized';
}

// ---------------------------------------------------------------------------------------------
// Authenticated calls.

export interface RequestOptions {
  method?: Method;
  path: string;
  data?: unknown;
  /** false: no token, no login (default true). */
  auth?: boolean;
}

/** One API call. With auth, a 401 leads to one new session and exactly one retry. */
export async function request<T>({ method = 'GET', path, data, auth = true }: RequestOptions): Promise<T> {
  if (!auth) return rawRequest<T>({ method, path, data });
  return withSession((token) => rawRequest<T>({ method, path, data, token }));
}

/** Sends with a session; a 401 drops that token, gets ONE new session (shared) and retries once. */
async function withSession<T>(send: (token: string) => Promise<T>): Promise<T> {
  const token = await ensureSession();
  try {
    return await send(token);
  } catch (error) {
    if (!isUnauthorized(error)) throw error;
    dropToken(token);
    return send(await ensureSession());
  }
}

/** uni.uploadFile through the same session handling (field name `file`). */
export function upload<T>(path: string, filePath: string, name = 'file'): Promise<T> {
  return withSession((token) => rawUpload<T>({ path, filePath, name, token }));
}

/** Avatars the API stores come back as a path on the API origin (`/api/avatars/…`). */
export function assetUrl(url: string | null | undefined): string {
  if (!url) return '';
  return url.startsWith('/') ? config.baseUrl + url : url;
}

/** Text for a person: blocked / network / anything else during login. */
export function loginErrorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'wechat_user_blocked') return MSG_BLOCKED;
    if (error.isNetwork) return MSG_NETWORK;
  }
  return MSG_LOGIN_FAILED;
}

/** Text for a person after any other call. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return '操作失败，请稍后再试';
}

/** Test hook: forget in-flight logins and the blocked stop. */
export function resetSessionState(): void {
  inflight = null;
  blocked = null;
}
