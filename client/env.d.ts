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
  /** H5 on a PC: redirect (WeChat's QR page, default) | embedded (WxLogin, self_redirect true) | embedded-top (self_redirect false) | own-qr (our QR, confirmed on the phone) | follow (the official account's parametric QR: 关注公众号登录; our QR when the API has no server URL) */
  readonly VITE_PC_LOGIN?: string;
  /** the login doors this deployment has: web, oa, oa-follow (comma-separated; default web,oa) — main.ts passes it as the module's `doors` */
  readonly VITE_LOGIN_DOORS?: string;
  /** the product's name on the PC login card */
  readonly VITE_APP_NAME?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
