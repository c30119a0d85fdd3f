/**
 * DEVELOPMENT ONLY — never part of a release bundle.
 * Real `wx.login` codes belong to WeChat and cannot be exchanged by the local WeChat simulator,
 * so in an mp-weixin development build a switch on the login page takes codes from the
 * simulator's control endpoint instead. Every import of this file sits inside a
 * `#ifdef DEV_SIM` block (a flag scripts/uni.mjs sets only for `dev mp-weixin`) and behind
 * `import.meta.env.DEV`; CI greps dist/build for the simulator path to prove it is gone.
 */

const SETTINGS_KEY = 'dev.simCode';
/** The mini-program AppID (manifest.json `mp-weixin.appid`, passed by scripts/uni.mjs in dev builds). */
const MP_APPID = import.meta.env.VITE_MP_APPID || '';

export interface SimSettings {
  enabled: boolean;
  /** The simulated WeChat user; the same name gives the same openid. */
  user: string;
}

export function simBase(): string {
  return (import.meta.env.VITE_SIM_BASE || 'http://127.0.0.1:3100').replace(/\/+$/, '');
}

export function loadSimSettings(): SimSettings {
  const raw = uni.getStorageSync(SETTINGS_KEY) as Partial<SimSettings> | '';
  return { enabled: !!(raw && raw.enabled), user: (raw && raw.user) || 'alice' };
}

export function saveSimSettings(settings: SimSettings): void {
  uni.setStorageSync(SETTINGS_KEY, settings);
}

/** What wx.login does on a phone, done by the simulator: a 5-minute single-use code. */
export function simCode(user: string): Promise<string> {
  return new Promise((resolve, reject) => {
    uni.request({
      url: `${simBase()}/__sim/mini/code`,
      method: 'POST',
      header: { 'content-type': 'application/json' },
      data: { appid: MP_APPID, user },
      timeout: 5000,
      success(res) {
        const code = (res.data as { code?: unknown } | null)?.code;
        if (res.statusCode === 200 && typeof code === 'string') resolve(code);
        else reject(new Error(`simulator refused a code (${res.statusCode})`));
      },
      fail(err) {
        reject(new Error(`simulator unreachable at ${simBase()}: ${err.errMsg}`));
      },
    });
  });
}
