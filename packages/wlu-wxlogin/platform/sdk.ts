/**
 * Base-library versions. Compared numerically, part by part ('2.9.0' < '2.27.1'; a plain string
 * comparison gets that wrong).
 */

/** Negative when a < b, 0 when equal, positive when a > b. Missing parts count as 0. */
export function compareVersion(a: string, b: string): number {
  const pa = a.split('.').map((p) => parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Since base library 2.27.1, getUserProfile answers 微信用户 and a grey avatar (docs/WECHAT.md, facts §2). */
export const USER_PROFILE_ANONYMOUS_FROM = '2.27.1';
/** wx.onNeedPrivacyAuthorization / getPrivacySetting: the minimum base library of this mini-program. */
export const MIN_BASE_LIBRARY = '2.32.3';

/** The base library the mini-program runs on ('' when unknown, e.g. H5). */
export function sdkVersion(): string {
  try {
    const info = (typeof uni.getAppBaseInfo === 'function' ? uni.getAppBaseInfo() : uni.getSystemInfoSync()) as { SDKVersion?: string };
    return info?.SDKVersion ?? '';
  } catch {
    return '';
  }
}

/** true only where getUserProfile still yields a real nickname and avatar. */
export function userProfileYieldsRealData(version = sdkVersion()): boolean {
  return !!version && compareVersion(version, USER_PROFILE_ANONYMOUS_FROM) < 0;
}
