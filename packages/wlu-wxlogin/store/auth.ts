/**
 * The auth store owns the session and EVERY change to it: login (mini-program, browser handoffs,
 * web-view ticket, PC attempt), a single-flight ensureSession, the profile/phone/avatar calls that
 * return the user, logout and account deletion, and the persisted token with its CURRENT expiry
 * (the server slides it; GET <basePath>/me tells the new one). Nothing outside store/ writes its
 * state (client/tests/store-owns-state.test.ts). request/ is transport only and never imports this
 * file. The plugin's options live here too (`config`, set by install()): no module-level state.
 *
 * - login(): ONE wx.login code, then POST /api/auth/mini/login; `code_already_used` /
 *   `code_invalid` → one more try with a fresh code; `wechat_user_blocked` is never retried.
 * - ensureSession(): the stored token, or ONE login shared by every caller. A silent login
 *   happens only for a person who already agreed and logged in on this device (mp-weixin);
 *   anyone else is sent to the login page (no login wall, login on demand).
 * - withSession(send): a 401 drops that token, gets ONE new session and retries once.
 * - loadDoors(): GET <basePath>/doors ONCE per app start (the answer stays in `serverDoors`);
 *   `offered` is what the login page shows: the server's doors, filtered by the host's `doors`
 *   option; null while the answer is pending; the host's options alone when it failed.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { RELOGIN_CODES, type ErrorCode } from '../shared/errors';
import type { LoginResponse, MeResponse, MiniLoginRequest, PublicUser, UpdateMeRequest } from '../shared/api';
import { ApiError, MSG_LOGIN_FAILED, MSG_NETWORK, errorMessage, rawRequest, rawUpload, type Method } from '../request/transport';
import { WEBVIEW_TICKET_PARAM, type BrowserLoginDoor } from '../request/messages';
import { loginCode } from '../platform/code';
import { isH5, isMpWeixin } from '../platform/env';
import { offeredDoors, parseServerDoors, type OfferedDoors, type ServerDoor } from '../platform/door';
import { LOGIN_PAGE, resolveOptions, type ResolvedOptions, type WechatLoginOptions } from '../options';

/** Storage key of the persisted session (uni.setStorageSync). */
export const AUTH_STORAGE_KEY = 'auth.session';
/** Storage key: users who chose 跳过 on the profile page on this device (remembered). */
export const PROFILE_SKIPPED_KEY = 'auth.profileSkipped';
/** Storage key: this device's person agreed to 用户协议 / 隐私政策 and logged in (silent re-login allowed). */
export const AGREED_KEY = 'auth.agreed';

export { LOGIN_PAGE };
export const MSG_LOGIN_REQUIRED = '请先登录';

interface PersistedSession {
  token: string;
  expiresAt: string;
  user: PublicUser | null;
}

type Profile = NonNullable<MiniLoginRequest['profile']>;

function readSkipped(): string[] {
  try {
    const raw = uni.getStorageSync(PROFILE_SKIPPED_KEY) as unknown;
    return Array.isArray(raw) ? raw.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function readPersisted(): PersistedSession | null {
  try {
    const raw = uni.getStorageSync(AUTH_STORAGE_KEY) as PersistedSession | string | '';
    const value: PersistedSession | null = typeof raw === 'string' ? (raw ? JSON.parse(raw) : null) : raw;
    if (value && typeof value.token === 'string' && typeof value.expiresAt === 'string' && Date.parse(value.expiresAt) > Date.now()) {
      return { token: value.token, expiresAt: value.expiresAt, user: value.user ?? null };
    }
  } catch {
    // unreadable storage: start logged out
  }
  return null;
}

function readAgreed(): boolean {
  try {
    return uni.getStorageSync(AGREED_KEY) === true;
  } catch {
    return false;
  }
}

/** Opens the login page unless it is already showing (on demand, never a wall). */
function goToLoginPage(): void {
  const pages = typeof getCurrentPages === 'function' ? getCurrentPages() : [];
  const current = pages[pages.length - 1] as { route?: string } | undefined;
  if (current?.route === LOGIN_PAGE.slice(1)) return;
  uni.navigateTo({ url: LOGIN_PAGE });
}

async function freshCode(): Promise<string> {
  try {
    return await loginCode();
  } catch (error) {
    const errMsg = (error as { errMsg?: string })?.errMsg ?? '';
    // wx.login fails without a network too; anything else is a login failure.
    if (/network|timeout|timed out|offline/i.test(errMsg)) throw new ApiError('network_error', 0, MSG_NETWORK);
    throw new ApiError('login_unavailable', 0, MSG_LOGIN_FAILED);
  }
}

// Development only: each copy of this file adds itself to a global set, so a second copy (the npm name
// imported beside @/uni_modules/wlu-wxlogin, or a bundler that resolved the link) shows (index.ts loadedCopies).
if (import.meta.env.DEV && typeof globalThis !== 'undefined') {
  const key = Symbol.for('wlu-wxlogin.copies');
  const registry = globalThis as unknown as Record<symbol, Set<unknown> | undefined>;
  (registry[key] ??= new Set()).add(Symbol('wlu-wxlogin store/auth.ts')); // a new identity per evaluated copy
}

export const useWluAuthStore = defineStore('wlu-auth', () => {
  /** The plugin's options (install() sets them); the defaults until then. */
  const config = ref<ResolvedOptions>(resolveOptions());
  const saved = readPersisted();
  const token = ref<string | null>(saved?.token ?? null);
  const expiresAt = ref<string | null>(saved?.expiresAt ?? null);
  const user = ref<PublicUser | null>(saved?.user ?? null);
  /** ids of users who skipped the profile page */
  const profileSkipped = ref<string[]>(readSkipped());
  const agreed = ref(readAgreed());

  /** GET <basePath>/doors: its list once answered (kept for the app's lifetime), and where the asking is */
  const serverDoors = ref<ServerDoor[] | null>(null);
  const doorsState = ref<'idle' | 'pending' | 'ready' | 'failed'>('idle');
  /** what the login page says when the server could not be asked (网络不可用，请重试); '' otherwise */
  const doorsError = ref('');

  // Not state: the login in flight (shared by every caller), the "blocked" stop, the doors request in flight.
  let inflight: Promise<string> | null = null;
  let blocked: ApiError | null = null;
  let doorsInflight: Promise<void> | null = null;

  /** A token that has not passed its expiry. */
  const isLoggedIn = computed(() => !!token.value && !!expiresAt.value && Date.parse(expiresAt.value) > Date.now());
  /** true when the profile page should be offered: incomplete and not skipped by this user. */
  const needsProfile = computed(() => !!user.value && !user.value.profileComplete && !profileSkipped.value.includes(user.value.id));

  /**
   * The doors the login page shows: the server's list filtered by the host's `doors` option; the
   * host's options alone when the server could not be asked; null while its answer is pending.
   */
  const offered = computed<OfferedDoors | null>(() => {
    if (doorsState.value !== 'ready' && doorsState.value !== 'failed') return null;
    const host = { doors: config.value.doors, given: config.value.doorsGiven };
    return offeredDoors(doorsState.value === 'ready' ? serverDoors.value : null, host, config.value.miniProgram);
  });

  /**
   * GET <basePath>/doors, once: a later call reuses the answer (or joins the request in flight). A
   * failure leaves the host's options in force; the next call (the login page opened again) asks again.
   * No network or a failing server is said on the page (doorsError); a server without the endpoint
   * (404) or an answer that is not the list falls back silently.
   */
  function loadDoors(): Promise<void> {
    if (doorsState.value === 'ready') return Promise.resolve();
    if (doorsInflight) return doorsInflight;
    doorsState.value = 'pending';
    doorsError.value = '';
    const run = rawRequest<unknown>({ method: 'GET', url: url('/doors') }).then(
      (body) => {
        const list = parseServerDoors(body);
        if (!list) throw new ApiError('bad_response', 200, MSG_LOGIN_FAILED);
        serverDoors.value = list;
        doorsState.value = 'ready';
      },
    ).catch((error: unknown) => {
      doorsState.value = 'failed';
      const said = error instanceof ApiError && (error.isNetwork || error.status >= 500);
      doorsError.value = said ? errorMessage(error) : '';
    });
    doorsInflight = run.finally(() => {
      doorsInflight = null;
    });
    return doorsInflight;
  }

  /** Applies the plugin's options (install()). */
  function configure(options: WechatLoginOptions): void {
    config.value = resolveOptions(options);
  }

  /** `${apiBase}${basePath}${path}`: every server URL the module calls. */
  function url(path: string): string {
    return `${config.value.apiBase}${config.value.basePath}${path}`;
  }

  /** Avatars the API stores come back as a path on the API origin (`<basePath>/avatars/…`). */
  function assetUrl(value: string | null | undefined): string {
    if (!value) return '';
    return value.startsWith('/') ? config.value.apiBase + value : value;
  }

  function persist(): void {
    if (!token.value || !expiresAt.value) return;
    const value: PersistedSession = { token: token.value, expiresAt: expiresAt.value, user: user.value ? { ...user.value } : null };
    uni.setStorageSync(AUTH_STORAGE_KEY, value);
  }

  /** Re-reads the persisted session (app start). */
  function restore(): void {
    const value = readPersisted();
    token.value = value?.token ?? null;
    expiresAt.value = value?.expiresAt ?? null;
    user.value = value?.user ?? null;
    profileSkipped.value = readSkipped();
    agreed.value = readAgreed();
  }

  function setSession(res: Pick<LoginResponse, 'token' | 'expiresAt' | 'user'>): void {
    token.value = res.token;
    expiresAt.value = res.expiresAt;
    user.value = res.user;
    persist();
  }

  function setUser(next: PublicUser): void {
    user.value = next;
    persist();
  }

  /** GET <basePath>/me answer: the user, and the session's current (slid) expiry. */
  function applyMe(res: MeResponse): void {
    user.value = res.user;
    if (res.expiresAt && Date.parse(res.expiresAt) > 0) expiresAt.value = res.expiresAt;
    persist();
  }

  /** Forgets the token (and user): logout, or the server no longer accepts it. */
  function clear(): void {
    token.value = null;
    expiresAt.value = null;
    user.value = null;
    try {
      uni.removeStorageSync(AUTH_STORAGE_KEY);
    } catch {
      // nothing to remove
    }
  }

  function skipProfile(): void {
    if (!user.value || profileSkipped.value.includes(user.value.id)) return;
    profileSkipped.value = [...profileSkipped.value, user.value.id].slice(-20);
    uni.setStorageSync(PROFILE_SKIPPED_KEY, profileSkipped.value);
  }

  /** The person ticked the agreement and logged in: later silent re-logins are allowed. */
  function rememberAgreement(): void {
    agreed.value = true;
    uni.setStorageSync(AGREED_KEY, true);
  }

  /** wx.login + POST <basePath>/<miniProgram>/login (one retry with a fresh code on a spent/invalid code). */
  async function exchange(profile?: Profile): Promise<LoginResponse> {
    let code = await freshCode();
    for (let attempt = 0; ; attempt++) {
      const body: MiniLoginRequest = profile ? { code, profile } : { code };
      try {
        const res = await rawRequest<LoginResponse>({ method: 'POST', url: url(`/${config.value.miniProgram}/login`), data: body });
        blocked = null;
        setSession(res);
        return res;
      } catch (error) {
        if (error instanceof ApiError && error.code === 'wechat_user_blocked') blocked = error;
        const retry = attempt === 0 && error instanceof ApiError && RELOGIN_CODES.includes(error.code as ErrorCode);
        if (!retry) throw error;
        code = await freshCode();
      }
    }
  }

  /** Runs one login as THE login in flight: ensureSession callers join it. */
  function share(run: Promise<LoginResponse>): Promise<LoginResponse> {
    const shared = run.then((res) => res.token);
    inflight = shared;
    const done = () => {
      if (inflight === shared) inflight = null;
    };
    shared.then(done, done);
    return run;
  }

  /** 微信登录 tapped (agreement ticked): clears the "blocked" stop and logs in. */
  function login(options: { profile?: Profile } = {}): Promise<LoginResponse> {
    blocked = null;
    const run = share(exchange(options.profile));
    run.then(rememberAgreement, () => undefined);
    return run;
  }

  /**
   * A usable token. Logged in → the stored token. Otherwise ONE login for all callers: on
   * mp-weixin a silent login for a person who logged in here before; else the login page.
   */
  function ensureSession(): Promise<string> {
    if (isLoggedIn.value && token.value) return Promise.resolve(token.value);
    if (inflight) return inflight;
    if (blocked) return Promise.reject(blocked);
    if (isH5() || !isMpWeixin() || !agreed.value) {
      goToLoginPage();
      return Promise.reject(new ApiError('login_required', 401, MSG_LOGIN_REQUIRED));
    }
    return share(exchange()).then((res) => res.token);
  }

  /** Sends with a session; a 401 drops that token, gets ONE new session (shared) and retries once. */
  async function withSession<T>(send: (token: string) => Promise<T>): Promise<T> {
    const current = await ensureSession();
    try {
      return await send(current);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'unauthorized')) throw error;
      if (token.value === current) clear();
      return send(await ensureSession());
    }
  }

  /**
   * App start (mp-weixin, logged in): when uni.checkSession says WeChat's login state expired,
   * ONE silent login refreshes the session_key the server keeps. Nothing else calls wx.login.
   */
  function refreshWechatSession(): Promise<void> {
    if (!isMpWeixin() || !isLoggedIn.value || typeof uni.checkSession !== 'function') return Promise.resolve();
    return new Promise((resolve) => {
      uni.checkSession({
        success: () => resolve(),
        fail: () => {
          if (inflight) {
            inflight.then(() => resolve(), () => resolve());
            return;
          }
          share(exchange()).then(
            () => resolve(),
            () => resolve(), // offline or refused: the next request handles it
          );
        },
      });
    });
  }

  /** Revokes the session on the server (best effort) and forgets it locally. Never logs in. */
  async function logout(): Promise<void> {
    const current = token.value;
    clear();
    if (!current) return;
    try {
      await rawRequest<void>({ method: 'POST', url: url('/logout'), token: current });
    } catch {
      // offline or already revoked: the local session is gone either way
    }
  }

  /** One authenticated call: a token from the store (at most one new session and one retry on 401). */
  function authed<T>(method: Method, path: string, data?: unknown): Promise<T> {
    return withSession((current) => rawRequest<T>({ method, url: url(path), data, token: current }));
  }

  /** The current user, and the session's current expiry (the server slides it while it is used). */
  async function fetchMe(): Promise<PublicUser> {
    const res = await authed<MeResponse>('GET', '/me');
    applyMe(res);
    return res.user;
  }

  /** PUT, not PATCH: wx.request has no PATCH (`request:fail method is invalid`). */
  async function updateMe(patch: UpdateMeRequest): Promise<PublicUser> {
    const res = await authed<MeResponse>('PUT', '/me', patch);
    setUser(res.user);
    return res.user;
  }

  /**
   * Uploads a local image (chooseAvatar temp path). The API re-encodes it, stores it, sets it as
   * the user's avatar and answers with its URL (a path on the API origin) and the user.
   */
  async function uploadAvatar(filePath: string): Promise<PublicUser> {
    const res = await withSession((current) =>
      rawUpload<{ avatarUrl: string; user: PublicUser }>({ url: url('/me/avatar'), filePath, name: 'file', token: current }),
    );
    setUser(res.user);
    return res.user;
  }

  /** Saves the phone number the person agreed to share (e.detail.code of open-type="getPhoneNumber"). */
  async function savePhone(code: string): Promise<PublicUser> {
    const res = await authed<MeResponse>('POST', '/me/phone', { code });
    setUser(res.user);
    return res.user;
  }

  /** 退出所有设备: ends every session of this account, this one included. */
  async function logoutEverywhere(): Promise<void> {
    await authed<void>('DELETE', '/sessions');
    clear();
  }

  /** 注销账号: deletes the account and everything the server keeps about it. */
  async function deleteAccount(): Promise<void> {
    await authed<void>('DELETE', '/me');
    clear();
  }

  /**
   * Browser login, second half: after WeChat's redirect the API sends the browser to the login
   * page with ?<door>_login=<state>; the session it parked for this browser (bound by an HttpOnly
   * cookie, taken once within 60 s) is collected here and stored like any login.
   */
  async function completeBrowserLogin(door: BrowserLoginDoor, state: string): Promise<LoginResponse> {
    const res = await rawRequest<LoginResponse>({ method: 'POST', url: url(`/${door}/session`), data: { state } });
    setSession(res);
    return res;
  }

  /** PC login (own QR / follow): the session of this browser's confirmed attempt. */
  async function collectPcAttempt(): Promise<LoginResponse> {
    const res = await rawRequest<LoginResponse>({ method: 'POST', url: url('/pc/session'), data: {} });
    setSession(res);
    return res;
  }

  /**
   * Mini-program side: the URL to open in a <web-view> so the H5 page is logged in as this account
   * (a one-time ticket, 60 s, from this session — never the session token itself).
   */
  async function webviewUrl(pageUrl: string): Promise<string> {
    const { ticket } = await authed<{ ticket: string; expiresIn: number }>('POST', '/webview/ticket');
    return `${pageUrl}${pageUrl.includes('?') ? '&' : '?'}${WEBVIEW_TICKET_PARAM}=${ticket}`;
  }

  /** H5 side, inside the web-view: exchange the ticket once (POST) for this page's own session. */
  async function exchangeWebviewTicket(ticket: string): Promise<LoginResponse> {
    const res = await rawRequest<LoginResponse>({ method: 'POST', url: url('/webview/session'), data: { ticket } });
    setSession(res);
    return res;
  }

  return {
    config,
    configure,
    serverDoors,
    doorsState,
    doorsError,
    offered,
    loadDoors,
    url,
    assetUrl,
    fetchMe,
    updateMe,
    uploadAvatar,
    savePhone,
    logoutEverywhere,
    deleteAccount,
    completeBrowserLogin,
    collectPcAttempt,
    webviewUrl,
    exchangeWebviewTicket,
    token,
    expiresAt,
    user,
    profileSkipped,
    agreed,
    isLoggedIn,
    needsProfile,
    restore,
    clear,
    skipProfile,
    rememberAgreement,
    login,
    ensureSession,
    withSession,
    refreshWechatSession,
    logout,
  };
});

