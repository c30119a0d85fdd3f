/** Typed API calls: transport from request.ts, the session from the auth store. */
import type { LoginResponse, MeResponse, PublicUser, UpdateMeRequest } from '../../shared/api';
import { useAuthStore } from '../stores/auth';
import { ApiError, MSG_BLOCKED, MSG_LOGIN_FAILED, MSG_NETWORK, rawRequest, rawUpload, type Method } from './request';

/** One authenticated call: a token from the store (at most one new session and one retry on 401). */
function authed<T>(method: Method, path: string, data?: unknown): Promise<T> {
  return useAuthStore().withSession((token) => rawRequest<T>({ method, path, data, token }));
}

/** The current user, and the session's current expiry (the server slides it while it is used). */
export async function fetchMe(): Promise<PublicUser> {
  const res = await authed<MeResponse>('GET', '/api/auth/me');
  useAuthStore().applyMe(res);
  return res.user;
}

/** PUT, not PATCH: wx.request has no PATCH (`request:fail method is invalid`). */
export async function updateMe(patch: UpdateMeRequest): Promise<PublicUser> {
  const { user } = await authed<MeResponse>('PUT', '/api/auth/me', patch);
  useAuthStore().setUser(user);
  return user;
}

/**
 * Uploads a local image (chooseAvatar temp path). The API re-encodes it, stores it, sets it as
 * the user's avatar and answers with its URL (a path on the API origin) and the user.
 */
export async function uploadAvatar(filePath: string): Promise<PublicUser> {
  const { user } = await useAuthStore().withSession((token) =>
    rawUpload<{ avatarUrl: string; user: PublicUser }>({ path: '/api/auth/me/avatar', filePath, name: 'file', token }),
  );
  useAuthStore().setUser(user);
  return user;
}

/** Saves the phone number the person agreed to share (e.detail.code of open-type="getPhoneNumber"). */
export async function savePhone(code: string): Promise<PublicUser> {
  const { user } = await authed<MeResponse>('POST', '/api/auth/me/phone', { code });
  useAuthStore().setUser(user);
  return user;
}

/** 退出所有设备: ends every session of this account, this one included. */
export async function logoutEverywhere(): Promise<void> {
  await authed<void>('DELETE', '/api/auth/sessions');
  useAuthStore().clear();
}

/** 注销账号: deletes the account and everything the server keeps about it. */
export async function deleteAccount(): Promise<void> {
  await authed<void>('DELETE', '/api/auth/me');
  useAuthStore().clear();
}

// #ifdef H5
/** The two browser logins: website QR login (ordinary browser) and official-account authorization (inside WeChat). */
export type BrowserLoginDoor = 'web' | 'oa';

/**
 * Browser login, second half: after WeChat's redirect the API sends the browser to
 * /pages/login/index?<door>_login=<state>; the session it parked for this browser (bound by an
 * HttpOnly cookie, taken once within 60 s) is collected here and stored like any login.
 */
export async function completeBrowserLogin(door: BrowserLoginDoor, state: string): Promise<LoginResponse> {
  const res = await rawRequest<LoginResponse>({ method: 'POST', path: `/api/auth/${door}/session`, data: { state } });
  useAuthStore().setSession(res);
  return res;
}

export const MSG_WEB_LOGIN_EXPIRED = '登录已过期，请重新扫码';
export const MSG_OA_LOGIN_EXPIRED = '登录已过期，请重新授权';
export const MSG_WEB_LOGIN_UNAVAILABLE = '微信服务暂时不可用，请稍后再试';
export const MSG_WEB_LOGIN_OFF = '网站扫码登录暂未开通';
export const MSG_OA_LOGIN_OFF = '公众号授权登录暂未开通';
export const MSG_OA_LOGIN_DENIED = '你已取消微信授权';
/** snsapi_base found no account for this openid: the person taps 微信授权登录 (snsapi_userinfo). */
export const MSG_OA_CONSENT_REQUIRED = '首次使用请点击「微信授权登录」，允许获取昵称、头像';
/** WeChat's snapshot page (快照页): only a virtual account; the full page must be opened. */
export const MSG_OA_SNAPSHOT = '当前为快照页，请点击页面底部的「使用完整服务」后再登录';

/** Chinese text for `?<door>_login_error=<code>` or a failed handoff. */
export function browserLoginErrorMessage(door: BrowserLoginDoor, error: unknown): string {
  if (error instanceof ApiError && error.isNetwork) return MSG_NETWORK;
  const code = error instanceof ApiError ? error.code : String(error);
  switch (code) {
    case 'web_login_state_invalid':
    case 'web_login_state_used':
    case 'oa_login_state_invalid':
    case 'oa_login_state_used':
    case 'code_invalid':
    case 'code_already_used':
      return door === 'oa' ? MSG_OA_LOGIN_EXPIRED : MSG_WEB_LOGIN_EXPIRED;
    case 'oa_login_denied':
      return MSG_OA_LOGIN_DENIED;
    case 'oa_login_consent_required':
      return MSG_OA_CONSENT_REQUIRED;
    case 'oa_login_snapshot_user':
      return MSG_OA_SNAPSHOT;
    case 'wechat_unavailable':
    case 'wechat_rate_limited':
    case 'store_unavailable':
      return MSG_WEB_LOGIN_UNAVAILABLE;
    case 'web_login_not_configured':
      return MSG_WEB_LOGIN_OFF;
    case 'oa_login_not_configured':
      return MSG_OA_LOGIN_OFF;
    case 'wechat_user_blocked':
      return MSG_BLOCKED;
    default:
      return MSG_LOGIN_FAILED;
  }
}
// #endif

// The mini-program's web-view door (issue 14, client/platform/door.ts → 'mini-webview').
/** Query parameter of the H5 page URL that carries the one-time ticket. */
export const WEBVIEW_TICKET_PARAM = 'wv_ticket';

/**
 * Mini-program side: the URL to open in a <web-view> so the H5 page is logged in as this account
 * (a one-time ticket, 60 s, from this session — never the session token itself).
 */
export async function webviewUrl(pageUrl: string): Promise<string> {
  const { ticket } = await authed<{ ticket: string; expiresIn: number }>('POST', '/api/auth/webview/ticket');
  return `${pageUrl}${pageUrl.includes('?') ? '&' : '?'}${WEBVIEW_TICKET_PARAM}=${ticket}`;
}

/** H5 side, inside the web-view: exchange the ticket once (POST) for this page's own session. */
export async function exchangeWebviewTicket(ticket: string): Promise<LoginResponse> {
  const res = await rawRequest<LoginResponse>({ method: 'POST', path: '/api/auth/webview/session', data: { ticket } });
  useAuthStore().setSession(res);
  return res;
}
