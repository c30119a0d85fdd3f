/** Typed API calls (all through request.ts). */
import type { LoginResponse, MeResponse, PublicUser, UpdateMeRequest } from '../../shared/api';
import { useAuthStore } from '../stores/auth';
import { ApiError, MSG_BLOCKED, MSG_LOGIN_FAILED, MSG_NETWORK, rawRequest, request, upload } from './request';

export async function fetchMe(): Promise<PublicUser> {
  const { user } = await request<MeResponse>({ path: '/api/me' });
  useAuthStore().setUser(user);
  return user;
}

export async function updateMe(patch: UpdateMeRequest): Promise<PublicUser> {
  const { user } = await request<MeResponse>({ method: 'PATCH', path: '/api/me', data: patch });
  useAuthStore().setUser(user);
  return user;
}

/**
 * Uploads a local image (chooseAvatar temp path). The API re-encodes it, stores it, sets it as
 * the user's avatar and answers with its URL (a path on the API origin) and the user.
 */
export async function uploadAvatar(filePath: string): Promise<PublicUser> {
  const { user } = await upload<{ avatarUrl: string; user: PublicUser }>('/api/me/avatar', filePath, 'file');
  useAuthStore().setUser(user);
  return user;
}

/** Revokes the session on the server (best effort) and forgets it locally. Never logs in. */
export async function logout(): Promise<void> {
  const auth = useAuthStore();
  const token = auth.token;
  auth.clear();
  if (!token) return;
  try {
    await rawRequest<void>({ method: 'POST', path: '/api/auth/logout', token });
  } catch {
    // offline or already revoked: the local session is gone either way
  }
}

/** Saves the phone number the person agreed to share (e.detail.code of open-type="getPhoneNumber"). */
export async function savePhone(code: string): Promise<PublicUser> {
  const { user } = await request<MeResponse>({ method: 'POST', path: '/api/me/phone', data: { code } });
  useAuthStore().setUser(user);
  return user;
}

/** 退出所有设备: ends every session of this account, this one included. */
export async function logoutEverywhere(): Promise<void> {
  await request<void>({ method: 'DELETE', path: '/api/sessions' });
  useAuthStore().clear();
}

/** 注销账号: deletes the account and everything the server keeps about it. */
export async function deleteAccount(): Promise<void> {
  await request<void>({ method: 'DELETE', path: '/api/me' });
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
