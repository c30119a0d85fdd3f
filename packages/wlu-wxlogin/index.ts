/// <reference path="./global.d.ts" />
/**
 * wlu-wxlogin — 微信登录 for uni-app (Vue 3 + Pinia; mp-weixin and H5).
 *
 *   import * as Pinia from 'pinia';
 *   import { createWechatLogin } from '@/uni_modules/wlu-wxlogin';   // never by the npm name (readme)
 *   app.use(Pinia.createPinia());
 *   app.use(createWechatLogin({ apiBase: import.meta.env.VITE_WXLOGIN_API ?? '' }));
 *
 * The pages are ONE subPackages entry of the host's pages.json (root `uni_modules/wlu-wxlogin/pages`);
 * the components (`wlu-*`) are found by easycom. No module-level state: the options live in the
 * Pinia store (and are provided to the app), so a second copy of this file cannot split them.
 */
import type { App, InjectionKey } from 'vue';
import type { Pinia } from 'pinia';
import { installGuard } from './guard/index';
import { optionsProblem, type ResolvedOptions, type WechatLoginOptions } from './options';
import { useWluAuthStore } from './store/auth';
// #ifdef MP-WEIXIN
import { guardPreloadAssets } from './platform/preload-guard';
// #endif

export { useWluAuthStore } from './store/auth';
export { ApiError, rawRequest, rawUpload, errorMessage, loginErrorMessage, type Method, type RawRequest, type RawUpload } from './request/transport';
export { LOGIN_PAGE, PROFILE_PAGE, ACCOUNT_PAGE, LEGAL_PAGE, type WechatLoginOptions, type ResolvedOptions } from './options';
export type { PublicUser, LoginResponse, MeResponse } from './shared/api';

/** inject(WLU_OPTIONS) gives the resolved options in any component of the host. */
export const WLU_OPTIONS: InjectionKey<ResolvedOptions> = Symbol.for('wlu-wxlogin.options') as InjectionKey<ResolvedOptions>;

export const MSG_PINIA_FIRST = 'wlu-wxlogin: install pinia first — app.use(createPinia()) before app.use(createWechatLogin(...))';

export const MSG_TWO_COPIES = "loaded twice — import it as '@/uni_modules/wlu-wxlogin', never by its npm name (two copies split the login state)";

/** Development only: how many copies of the store module this page loaded (store/auth.ts registers itself). */
export function loadedCopies(): number {
  return (globalThis as unknown as Record<symbol, Set<unknown> | undefined>)[Symbol.for('wlu-wxlogin.copies')]?.size ?? 0;
}

/** The Vue plugin: `app.use(createWechatLogin(options))`, after `app.use(createPinia())`. */
export function createWechatLogin(options: WechatLoginOptions = {}): { install(app: App): void } {
  return {
    install(app: App): void {
      const pinia = app.config.globalProperties.$pinia as Pinia | undefined;
      if (!pinia) throw new Error(MSG_PINIA_FIRST);
      // #ifdef MP-WEIXIN
      guardPreloadAssets(typeof wx === 'undefined' ? undefined : wx);
      // #endif
      const auth = useWluAuthStore(pinia);
      auth.configure(options);
      app.provide(WLU_OPTIONS, auth.config);
      const problem = optionsProblem(auth.config);
      if (problem) console.warn(problem);
      installGuard(pinia, auth.config.guard.pages);
      if (import.meta.env.DEV) {
        const copies = loadedCopies();
        if (copies > 1) console.warn(`wlu-wxlogin: ${MSG_TWO_COPIES} (${copies} copies)`);
      }
      // mp-weixin, logged in: uni.checkSession; only an expired WeChat login state costs a wx.login
      void auth.refreshWechatSession();
    },
  };
}
