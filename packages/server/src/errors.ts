import { ERROR_CODES, type ErrorCode } from '../../../shared/errors.js';

/**
 * The one error type domain code (flows, users) throws for expected failures, with a stable code
 * from shared/errors.ts. The layers below throw their own errors (WechatApiError /
 * WechatUnavailableError / WechatConfigError, DuplicateKeyError / StoreUnavailableError,
 * UnknownSealKeyError); the HTTP edge translates all of them once (http/errors.ts).
 */
export class AppError extends Error {
  constructor(readonly code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'AppError';
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}
