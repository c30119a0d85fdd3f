import { ERROR_CODES, type ErrorCode } from '../../shared/errors.js';
import { UnknownSealKeyError } from './crypto/seal.js';
import { StoreUnavailableError } from './store/types.js';
import { WechatApiError, WechatUnavailableError } from './wechat/transport.js';

/** The one error type domain code throws for expected failures; HTTP turns it into the envelope. */
export class AppError extends Error {
  constructor(readonly code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'AppError';
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** WeChat errcodes of the login family → our stable codes. */
export function fromWechatError(error: unknown): AppError | null {
  const make = (code: ErrorCode) => new AppError(code, undefined, { cause: error });
  if (error instanceof WechatUnavailableError) return make('wechat_unavailable');
  if (error instanceof StoreUnavailableError) return make('store_unavailable');
  // A value sealed with a key this instance lacks (rotation half-deployed): nothing was spent.
  if (error instanceof UnknownSealKeyError) return make('seal_key_unknown');
  if (!(error instanceof WechatApiError)) return null;
  switch (error.errcode) {
    case 40029: // invalid code (unknown, expired, or for another appid)
    case 40163: // code been used
    case 42003: // oauth_code timed out
      return make('code_invalid');
    case 40226: // high-risk user: code blocked — do not retry
      return make('wechat_user_blocked');
    case 45011: // minute quota
      return make('wechat_rate_limited');
    case 40013: // invalid appid
    case 40125: // invalid appsecret
    case 40164: // IP not whitelisted
      return make('wechat_config_invalid');
    default: // -1 system error and anything unexpected
      return make('wechat_unavailable');
  }
}
