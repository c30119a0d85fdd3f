import type { Context } from 'hono';
import { H5_LOGIN_PAGE } from '../../../../shared/oauth.js';

/** Where the handler is mounted when the host does not say. */
export const DEFAULT_BASE_PATH = '/api/auth';

/**
 * The H5 login page browsers go back to after WeChat, `{query}` replaced by the result. The explicit
 * empty fragment matters: a browser keeps the current URL's fragment across a redirect whose
 * Location has none, so WeChat's required `#wechat_redirect` (docs/WECHAT.md "The authorize URLs")
 * would ride along start → authorize → callback → page and stay in the address bar. A hash-router
 * host writes '/#/uni_modules/wlu-wxlogin/pages/login/index?{query}' instead.
 */
export const DEFAULT_H5_LOGIN_PAGE = `${H5_LOGIN_PAGE}?{query}#`;

/**
 * Every URL the product builds, in one place: redirect_uri, the follow reply link, the PC's scan
 * URL, the phone pages' links, avatar paths and the H5 login page. Paths follow `basePath`; absolute
 * URLs start at `publicBaseUrl` (or, in development, the request's own origin).
 */
export interface Urls {
  /** '/api/auth' or the host's own ('' when mounted at the root) */
  readonly basePath: string;
  /** `<basePath><path>`: a path on this API (cookie paths, links inside our own pages) */
  path(path: string): string;
  /** the origin absolute URLs start at: publicBaseUrl, else the request's (`c` or an origin string) */
  origin(from: Context | string): string;
  /** `<origin><basePath><path>`: redirect_uri, scan URLs, reply links */
  api(from: Context | string, path: string): string;
  /** the H5 login page with `query` */
  h5Login(query: string | URLSearchParams): string;
}

/** A base path as routes use it: leading '/', no trailing '/', '' for the root. */
export function normalizeBasePath(basePath: string | undefined): string {
  const trimmed = (basePath ?? DEFAULT_BASE_PATH).trim().replace(/\/+$/, '');
  if (!trimmed) return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

export function createUrls(settings: { basePath?: string | undefined; publicBaseUrl: string | null; h5LoginPage?: string | undefined }): Urls {
  const basePath = normalizeBasePath(settings.basePath);
  const h5LoginPage = settings.h5LoginPage?.trim() || DEFAULT_H5_LOGIN_PAGE;
  const origin = (from: Context | string) => settings.publicBaseUrl ?? (typeof from === 'string' ? from : new URL(from.req.url).origin);
  return {
    basePath,
    path: (path) => `${basePath}${path}`,
    origin,
    api: (from, path) => `${origin(from)}${basePath}${path}`,
    h5Login: (query) => h5LoginPage.replace('{query}', String(query)),
  };
}
