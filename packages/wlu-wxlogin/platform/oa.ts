import { ApiError } from '../request/transport';
import { OA_SCOPE_BASE, OA_SCOPE_USERINFO } from '../shared/oauth';
import type { UrlOf } from '../request/pc-login';

/**
 * The official-account door of the H5 login page (inside WeChat's in-app browser), kept out of the
 * page (docs/CLIENT.md):
 * - silent first: the login page tries `snsapi_base` once per browser tab session. A known openid
 *   comes back logged in without any consent page; an unknown one comes back with
 *   `oa_login_consent_required` and the page shows 微信授权登录.
 * - the tap on 微信授权登录 asks for `snsapi_userinfo` (consent; the unionid links an account
 *   known from the mini-program, the profile fills an empty one).
 * snsapi_base never creates an account (the server refuses), so a person known from the
 * mini-program never ends up with a second, empty one.
 */
const SILENT_TRIED_KEY = 'wx_oa_silent_tried';

export function isInWechat(): boolean {
  return typeof navigator !== 'undefined' && /MicroMessenger/i.test(navigator.userAgent);
}

/** Official-account web authorization: the server route (under basePath) the login page hands over to. */
function startUrl(url: UrlOf, scope: string, next: string): string {
  return `${url('/oa/start')}?scope=${scope}&next=${encodeURIComponent(next)}`;
}

/** Where 微信授权登录 sends the browser: the userinfo authorization. */
export function oaUserinfoLoginUrl(url: UrlOf, next: string): string {
  return startUrl(url, OA_SCOPE_USERINFO, next);
}

/**
 * On the login page inside WeChat: the silent snsapi_base attempt, once per tab session (so that
 * 退出登录 followed by the login page does not log the person straight back in). Returns true
 * when the browser is being sent away.
 */
export function trySilentOaLogin(url: UrlOf, next: string): boolean {
  if (!isInWechat() || typeof window === 'undefined') return false;
  try {
    if (window.sessionStorage.getItem(SILENT_TRIED_KEY)) return false;
    window.sessionStorage.setItem(SILENT_TRIED_KEY, '1');
  } catch {
    return false; // no storage: no automatic redirect loop risk, the button still works
  }
  window.location.replace(startUrl(url, OA_SCOPE_BASE, next));
  return true;
}

/**
 * A browser-login return the page should not show as a failure: the handoff was already taken
 * (back button, reload) while this browser is logged in — the person simply continues.
 */
export function isFinishedLogin(error: unknown, loggedIn: boolean): boolean {
  const code = error instanceof ApiError ? error.code : String(error);
  return loggedIn && /^(web|oa)_login_state_(used|invalid)$/.test(code);
}
