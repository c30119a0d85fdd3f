/**
 * wx.login codes (mp-weixin). A code lives 5 minutes and is single use, and wx.login may rotate
 * the session_key the server holds for this person (then decrypting with it fails): a code is
 * fetched only when a login is actually about to be sent — never on start or page show.
 */
// #ifdef DEV_SIM
import { loadSimSettings, simCode } from '../dev/sim';
// #endif

/** A brand-new code: uni.login, or (dev builds, switch on) the WeChat simulator. */
export function loginCode(): Promise<string> {
  // #ifdef DEV_SIM
  if (import.meta.env.DEV) {
    const sim = loadSimSettings();
    if (sim.enabled) return simCode(sim.user);
  }
  // #endif
  return new Promise((resolve, reject) => {
    uni.login({
      provider: 'weixin',
      success(res) {
        if (res.code) resolve(res.code);
        else reject(Object.assign(new Error(res.errMsg || 'login: no code'), { errMsg: res.errMsg }));
      },
      fail(err) {
        reject(Object.assign(new Error(err.errMsg || 'login:fail'), { errMsg: err.errMsg }));
      },
    });
  });
}
