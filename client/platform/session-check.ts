import { miniLogin } from '../api/request';
import { useAuthStore } from '../stores/auth';
import { isMpWeixin } from './env';

/**
 * At start, uni.checkSession tells whether WeChat's login state (the session_key the server keeps)
 * is still valid. When it has expired and we are logged in, log in again silently so the server's
 * session_key stays current (decrypting share info needs it). Never interrupts the user.
 */
export function refreshWechatSessionIfExpired(): Promise<void> {
  if (!isMpWeixin() || !useAuthStore().isLoggedIn) return Promise.resolve();
  return new Promise((resolve) => {
    uni.checkSession({
      success: () => resolve(),
      fail: () => {
        miniLogin().then(
          () => resolve(),
          () => resolve(), // offline or refused: the next request handles it
        );
      },
    });
  });
}
