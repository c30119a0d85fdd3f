import { WechatApiError } from './transport.js';

/**
 * -1 (系统繁忙，此时请开发者稍候再试, docs/WECHAT.md "Server API errors the API maps") retried once — ONLY for calls that
 * are safe to repeat (access token, sns/userinfo). Never for a call that spends a code
 * (jscode2session, sns/oauth2/access_token, getuserphonenumber): the first attempt may have used it.
 */
export const BUSY_RETRY_DELAY_MS = 200;

export async function retryOnceIfBusy<T>(call: () => Promise<T>, delayMs = BUSY_RETRY_DELAY_MS): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof WechatApiError) || error.errcode !== -1) throw error;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return call();
  }
}
