/**
 * A code WeChat hands out once (wx.login code, OAuth code, phone code): valid 5 minutes for the app
 * it was issued to, single use (docs/WECHAT.md "jscode2session"). Unknown, expired or another
 * app's → 40029 invalid code; the second use → 40163 code been used. The code is spent here.
 */
export interface OneTimeCode {
  appid: string;
  expiresAt: number;
  used: boolean;
}

export function redeemOnce<T extends OneTimeCode>(entry: T | undefined, appid: string, now: number): T | { errcode: 40029 | 40163 } {
  if (!entry || entry.appid !== appid || entry.expiresAt <= now) return { errcode: 40029 };
  if (entry.used) return { errcode: 40163 };
  entry.used = true;
  return entry;
}
