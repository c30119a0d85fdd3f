import type { ErrorCode } from '../../../../shared/errors.js';
import { UnknownSealKeyError } from '../crypto/seal.js';
import { AppError } from '../errors.js';
import { StoreUnavailableError } from '../store/types.js';
import { WechatApiError, WechatConfigError, WechatUnavailableError } from '../wechat/transport.js';

/**
 * The error seam: the ONE place where what the layers below throw becomes a stable code
 * (shared/errors.ts). Used by the HTTP edge only — `onError` (JSON envelope) and the OAuth doors'
 * browser redirect (?<door>_login_error=<code>). Flows throw AppError for their own domain
 * failures and let WeChat / store errors through; they catch a WeChat error only when its meaning
 * is specific to the flow (40163 on a mini code → code_already_used), explicitly by errcode.
 * null: not a known failure (a bug) — the edge answers internal_error and logs it.
 */
export function toAppError(error: unknown): AppError | null {
  if (error instanceof AppError) return error;
  const code = codeOf(error);
  return code ? new AppError(code, undefined, { cause: error }) : null;
}

function codeOf(error: unknown): ErrorCode | null {
  if (error instanceof StoreUnavailableError) return 'store_unavailable';
  // A value sealed with a key this instance lacks (rotation half-deployed): nothing was spent.
  if (error instanceof UnknownSealKeyError) return 'seal_key_unknown';
  if (error instanceof WechatConfigError) return error.reason === 'ip_not_whitelisted' ? 'wechat_ip_not_whitelisted' : 'wechat_config_invalid';
  if (error instanceof WechatUnavailableError) return error.reason === 'token_refresh' ? 'wechat_token_unavailable' : 'wechat_unavailable';
  if (error instanceof WechatApiError) return wechatErrcode(error.errcode);
  return null;
}

/** WeChat errcodes of the login family (docs/WECHAT.md "Server API errors the API maps"). */
function wechatErrcode(errcode: number): ErrorCode {
  switch (errcode) {
    case 40029: // invalid code (unknown, expired, or for another appid)
    case 40163: // code been used
    case 42003: // oauth_code timed out
      return 'code_invalid';
    case 40226: // high-risk user: code blocked — do not retry
      return 'wechat_user_blocked';
    case 45011: // minute quota
      return 'wechat_rate_limited';
    case 40013: // invalid appid
    case 40125: // invalid appsecret
    case 40164: // IP not whitelisted
      return 'wechat_config_invalid';
    default: // -1 system error and anything unexpected
      return 'wechat_unavailable';
  }
}
