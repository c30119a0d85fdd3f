// Types the module relies on in a host project (TS 4.9 syntax: the fixture host's compiler).
/// <reference types="@dcloudio/types" />

/** The mini-program global (mp-weixin only); uni wraps most of it as `uni`. */
declare const wx: { preloadAssets?: (opts: { data?: { type: string; src: string }[]; complete?: (res: unknown) => void }) => unknown } | undefined;

interface ImportMetaEnv {
  readonly DEV: boolean;
  /** mp-weixin development builds (this repository's scripts/uni.mjs): WeChat simulator origin for the dev code switch. */
  readonly VITE_SIM_BASE?: string;
  /** mp-weixin development builds: the AppID the simulator issues codes for. */
  readonly VITE_MP_APPID?: string;
  /** H5 development: the WeChat simulator's origin for the PC card's "open as the phone" link. */
  readonly VITE_DEV_SIM_URL?: string;
}
