/**
 * Optional route guard: uni.addInterceptor on navigateTo / redirectTo / reLaunch / switchTab. A
 * listed page opened while nobody is logged in opens the login page instead (with `next` = that
 * page). A convenience for the UI, not security: uni's interceptors do not see the first H5 page
 * load or a URL typed into the address bar, and the server checks every request anyway.
 */
import type { Pinia } from 'pinia';
import { LOGIN_PAGE } from '../options';
import { useWluAuthStore } from '../store/auth';

export const GUARDED_APIS = ['navigateTo', 'redirectTo', 'reLaunch', 'switchTab'] as const;

/** The path part of a navigation URL, with a leading slash. */
function pathOf(url: unknown): string {
  const text = typeof url === 'string' ? url : '';
  const path = text.split('?')[0] ?? '';
  return path.startsWith('/') ? path : `/${path}`;
}

/** Installs the interceptors for `pages` (paths like `/pages/orders/index`). */
export function installGuard(pinia: Pinia, pages: readonly string[]): void {
  if (!pages.length || typeof uni.addInterceptor !== 'function') return;
  const guarded = new Set(pages.map(pathOf));
  for (const api of GUARDED_APIS) {
    uni.addInterceptor(api, {
      invoke(args: { url?: string }) {
        const path = pathOf(args.url);
        if (!guarded.has(path) || useWluAuthStore(pinia).isLoggedIn) return true;
        uni.navigateTo({ url: `${LOGIN_PAGE}?next=${encodeURIComponent(path)}` });
        return false;
      },
    });
  }
}
