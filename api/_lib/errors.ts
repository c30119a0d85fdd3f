import { ERROR_CODES, type ErrorCode } from '../../shared/errors.js';
import { StoreUnavailableError } from './store/types.js';
import { WechatApiError, WechatUnavailableError } from './wechat/transport.js';

/** The one error type domain code throws for expected failures; HTTP turns it into the envelope. */
export class AppError extends Error {
  constructor(readonly code: ErrorCode, message?: string) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'AppError';
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** WeChat errcodes of the login family → our stable codes. */
export function fromWechatError(error: unknown): AppError | null {
  if (error instanceof WechatUnavailableError) return new AppError('wechat_unavailable');
  if (error instanceof StoreUnavailableError) return new AppError('store_unavailable');
  if (!(error instanceof WechatApiError)) return null;
  switch (error.errcode) {
    case 40029: // invalid code (unknown, expired, or for another appid)
    case 40163: // code been used
      return new AppError('code_invalid');
    case 40226: // high-risk user: code blocked — do not retry
      return new AppError('wechat_user_blocked');
    case 45011: // minute quota
      return new AppError('wechat_rate_limited');
    case 40013: // invalid appid
    case 40125: // invalid appsecret
    case 40164: // IP not whitelisted
      return new AppError('wechat_config_invalid');
    case -1:
      return new AppError('wechat_unavailable');
    default:
      return new AppError('wechat_unavailable');
  }
}
