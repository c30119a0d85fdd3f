/**
 * What the login pages say about the browser doors, and the web-view door's URL parameter. No
 * state and no requests: the calls that change the session are actions of the auth store.
 */
import { ERROR_CODES } from '../shared/errors';
import { ApiError, MSG_BLOCKED, MSG_LOGIN_FAILED, MSG_NETWORK } from './transport';

/** The two browser logins: website QR login (ordinary browser) and official-account authorization (inside WeChat). */
export type BrowserLoginDoor = 'web' | 'oa';

// The texts are the API's own (shared/errors.ts), never copies.
export const MSG_WEB_LOGIN_EXPIRED = ERROR_CODES.web_login_state_invalid.message;
export const MSG_OA_LOGIN_EXPIRED = ERROR_CODES.oa_login_state_invalid.message;
export const MSG_WEB_LOGIN_UNAVAILABLE = ERROR_CODES.wechat_unavailable.message;
export const MSG_WEB_LOGIN_OFF = ERROR_CODES.web_login_not_configured.message;
export const MSG_OA_LOGIN_OFF = ERROR_CODES.oa_login_not_configured.message;
export const MSG_OA_LOGIN_DENIED = ERROR_CODES.oa_login_denied.message;
/** snsapi_base found no account for this openid: the person taps 微信授权登录 (snsapi_userinfo). */
export const MSG_OA_CONSENT_REQUIRED = ERROR_CODES.oa_login_consent_required.message;
/** WeChat's snapshot page (快照页): only a virtual account; the full page must be opened. */
export const MSG_OA_SNAPSHOT = ERROR_CODES.oa_login_snapshot_user.message;

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

// The mini-program's web-view door (issue 14, platform/door.ts → 'mini-webview').
/** Query parameter of the H5 page URL that carries the one-time ticket. */
export const WEBVIEW_TICKET_PARAM = 'wv_ticket';

