import { isH5 } from './platform/env';

/**
 * Where the API lives.
 * - H5: the page and the API share one origin (Vercel rewrites /api; vite proxies it in dev).
 * - mp-weixin: VITE_API_BASE, set by scripts/uni.mjs (dev default http://<LAN IP>:3000). In
 *   production it must be an ICP-filed HTTPS domain listed as a request/uploadFile legal domain.
 */
export function defaultApiBase(): string {
  if (isH5()) return '';
  return (import.meta.env.VITE_API_BASE || 'http://127.0.0.1:3000').replace(/\/+$/, '');
}

/** ~10 s: long enough for a slow mobile network, short enough to show 网络不可用 and offer a retry. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Website QR login (H5 in an ordinary browser): the server route the login page hands over to. */
export const WEB_LOGIN_PATH = '/api/auth/web/qr';

/** Official-account web authorization (H5 opened inside WeChat): the server route the login page hands over to. */
export const OA_LOGIN_PATH = '/api/auth/oa/start';

/** The mini-program AppID (manifest.json `mp-weixin.appid`). */
export const MP_APPID = import.meta.env.VITE_MP_APPID || '';
