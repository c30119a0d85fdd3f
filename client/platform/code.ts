/**
 * wx.login codes (mp-weixin). A code lives 5 minutes and is single use.
 * The login page prefetches one when it shows (so the tap does not wait for wx.login and
 * wx.login is not called after user data was read, which may rotate the session_key) and
 * refreshes it before the 5 minutes run out.
 */
// #ifdef DEV_SIM
import { loadSimSettings, simCode } from '../dev/sim';
// #endif

/** Codes are valid for 5 minutes; a prefetched code is replaced after 4. */
export const CODE_MAX_AGE_MS = 4 * 60_000;

interface CachedCode {
  code: string;
  at: number;
}

let cached: CachedCode | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;
let pending: Promise<string> | null = null;

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

/** Fetches a code now and keeps it fresh until taken or stopped (login page onShow). */
export function prefetchCode(): Promise<void> {
  stopPrefetch();
  const request = loginCode();
  pending = request;
  return request.then(
    (code) => {
      if (pending !== request) return;
      pending = null;
      cached = { code, at: Date.now() };
      refreshTimer = setTimeout(() => void prefetchCode(), CODE_MAX_AGE_MS);
    },
    () => {
      if (pending === request) pending = null;
      // no code yet: takeCode() calls uni.login itself on the tap
    },
  );
}

/** Stops refreshing (login page onHide/onUnload). The cached code is dropped. */
export function stopPrefetch(): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  cached = null;
  pending = null;
}

/** The prefetched code if it is still fresh (it is consumed), else a new one. */
export async function takeCode(): Promise<string> {
  if (pending) {
    const request = pending;
    try {
      await request;
    } catch {
      // fall through to a fresh uni.login
    }
  }
  const fresh = cached && Date.now() - cached.at < CODE_MAX_AGE_MS ? cached.code : null;
  stopPrefetch();
  return fresh ?? loginCode();
}
