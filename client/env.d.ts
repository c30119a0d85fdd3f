/// <reference types="vite/client" />
/// <reference types="@dcloudio/types" />

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

interface ImportMetaEnv {
  /** mp-weixin: API origin (set by scripts/uni.mjs). H5 uses its own origin. */
  readonly VITE_API_BASE?: string;
  /** mp-weixin development builds: WeChat simulator origin for the dev code switch. */
  readonly VITE_SIM_BASE?: string;
  /** mp-weixin AppID from manifest.json. */
  readonly VITE_MP_APPID?: string;
  /** H5 on a PC: redirect (WeChat's QR page, default) | embedded (WxLogin, self_redirect true) | embedded-top (self_redirect false) | own-qr (our QR, confirmed on the phone) | follow (the official account's parametric QR: 关注公众号登录; our QR when the API has no server URL) */
  readonly VITE_PC_LOGIN?: string;
  /** the login doors this deployment has: web, oa, oa-follow (comma-separated; default web,oa) — client/platform/door.ts */
  readonly VITE_LOGIN_DOORS?: string;
  /** H5 development (npm run dev): the WeChat simulator's origin, for the PC card's "open as the phone" link */
  readonly VITE_DEV_SIM_URL?: string;
  /** the product's name on the PC login card */
  readonly VITE_APP_NAME?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}

/** The mini-program global (mp-weixin only); uni wraps most of it as `uni`. */
declare const wx: { preloadAssets?: (opts: { data?: { type: string; src: string }[]; complete?: (res: unknown) => void }) => unknown } | undefined;
