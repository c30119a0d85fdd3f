/**
 * mp-weixin release builds of uni-app call `wx.preloadAssets` 3 s after start for an image on
 * DCloud's CDN whose path encodes this mini-program's AppID (uni-mp-weixin `preloadAsset`, a
 * navigation-bar shadow this app never shows). We do not send users' devices to a third party
 * for that: requests for DCloud hosts are dropped, everything else passes through.
 */
const BLOCKED_HOST = /(^|\.)dcloud\.net\.cn$/i;

interface PreloadOptions {
  data?: { type: string; src: string }[];
  complete?: (res: unknown) => void;
  [key: string]: unknown;
}

export function guardPreloadAssets(target: { preloadAssets?: (opts: PreloadOptions) => unknown } | undefined): void {
  const original = target?.preloadAssets;
  if (!target || typeof original !== 'function') return;
  const guarded = (opts: PreloadOptions) => {
    const data = (opts?.data ?? []).filter((asset) => {
      const host = /^https?:\/\/([^/:]+)/i.exec(asset?.src ?? '')?.[1] ?? '';
      return !BLOCKED_HOST.test(host);
    });
    if (data.length) return original.call(target, { ...opts, data });
    opts?.complete?.({ errMsg: 'preloadAssets:ok' });
    return undefined;
  };
  try {
    target.preloadAssets = guarded;
  } catch {
    // read-only in some base library: nothing we can do
  }
}
