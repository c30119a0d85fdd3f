/**
 * The plugin's options (createWechatLogin(options)): typed, documented, resolved once by install()
 * and kept in the Pinia store (no module-level state: a second copy of this module would split it).
 */
import { isH5 } from './platform/env';
import { configuredDoors } from './platform/door';

/** The H5 doors a deployment offers: `web` 网站应用扫码, `oa` 公众号网页授权, `oa-follow` 关注公众号登录. */
export type BrowserDoorName = 'web' | 'oa' | 'oa-follow';
/** How a PC browser logs in (H5): WeChat's QR page, WxLogin embedded, our own QR, or the follow QR. */
export type PcLoginFormName = 'redirect' | 'embedded' | 'embedded-top' | 'own-qr' | 'follow';

export interface WechatLoginOptions {
  /**
   * The API origin, no trailing slash, e.g. `https://api.example.com`. mp-weixin: required (an
   * ICP-filed https domain listed as request/uploadFile 合法域名). H5 on the API's origin: `''` (default).
   */
  apiBase?: string;
  /** Where the server package is mounted on that origin. Default `/api/auth`. */
  basePath?: string;
  /**
   * This mini-program's door name on the server (`miniProgram({ name })` in the server's doors; several
   * mini-programs of one open-platform account each have their own). Logins go to `<basePath>/<name>/login`.
   * Default `mini`.
   */
  miniProgram?: string;
  /**
   * Optional filter on the H5 doors. The login page shows the doors the server lists
   * (GET `<basePath>/doors`, asked once per app start) that this platform allows; listing doors
   * here hides the others — it never adds one the server lacks. A comma-separated string is
   * accepted too (e.g. from an env variable). Only while the server cannot be asked (network
   * error) is this list used alone (default then `['web', 'oa']`). The mini-program door needs no entry.
   */
  doors?: readonly BrowserDoorName[] | string;
  /** PC browser login form (default `redirect`). `?pc_login=` on the login page overrides it (demos). */
  pcLogin?: PcLoginFormName | string;
  /** Product name shown on the PC login card. Default 微信登录. */
  appName?: string;
  /**
   * The agreement pages the login page links to (《用户协议》《隐私政策》). Default: the module's own
   * legal page (`/uni_modules/wlu-wxlogin/pages/legal/index?doc=user|privacy`), a template to replace.
   */
  agreement?: { userPage: string; privacyPage: string };
  /** Where to go after logging in when the login page was opened directly (no page to go back to). Default `/pages/index/index`. */
  after?: string;
  /** Where 暂不登录 / 退出登录 / 注销 return to. Default `/pages/index/index`. */
  home?: string;
  /**
   * Optional route guard (uni.addInterceptor on navigateTo/redirectTo/reLaunch/switchTab): these
   * page paths open the login page first when nobody is logged in. A convenience for the UI, not
   * security: the server checks every request.
   */
  guard?: { pages: readonly string[] };
}

/** The options with every default applied. */
export interface ResolvedOptions {
  apiBase: string;
  basePath: string;
  miniProgram: string;
  /** the host's `doors` (default `web,oa`): a filter on the server's list when `doorsGiven`, the whole answer when the server cannot be asked */
  doors: { web: boolean; oa: boolean; oaFollow: boolean };
  /** whether the host passed `doors` (a non-empty list or string) */
  doorsGiven: boolean;
  pcLogin: string;
  appName: string;
  agreement: { userPage: string; privacyPage: string };
  after: string;
  home: string;
  guard: { pages: string[] };
}

/** The module's own pages (one subPackages entry of the host's pages.json). */
export const MODULE_ROOT = '/uni_modules/wlu-wxlogin/pages';
export const LOGIN_PAGE = `${MODULE_ROOT}/login/index`;
export const PROFILE_PAGE = `${MODULE_ROOT}/profile/index`;
export const ACCOUNT_PAGE = `${MODULE_ROOT}/account/index`;
export const LEGAL_PAGE = `${MODULE_ROOT}/legal/index`;

/** ~10 s: long enough for a slow mobile network, short enough to show 网络不可用 and offer a retry. */
export const REQUEST_TIMEOUT_MS = 10_000;

function doorsOf(value: WechatLoginOptions['doors']): ResolvedOptions['doors'] {
  return configuredDoors(typeof value === 'string' || value === undefined ? value || undefined : value.join(','));
}

function pagePath(value: string | undefined, fallback: string): string {
  return value && value.startsWith('/') ? value : fallback;
}

/** Applies the defaults; a basePath is normalised to `/x/y` (leading slash, no trailing one). */
export function resolveOptions(options: WechatLoginOptions = {}): ResolvedOptions {
  const basePath = `/${(options.basePath ?? '/api/auth').replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  return {
    apiBase: (options.apiBase ?? '').trim().replace(/\/+$/, ''),
    basePath,
    miniProgram: /^[a-z0-9][a-z0-9-]*$/.test(options.miniProgram ?? '') ? options.miniProgram! : 'mini',
    doors: doorsOf(options.doors),
    doorsGiven: typeof options.doors === 'string' ? options.doors.trim() !== '' : (options.doors?.length ?? 0) > 0,
    pcLogin: options.pcLogin ?? '',
    appName: options.appName || '微信登录',
    agreement: options.agreement ?? { userPage: `${LEGAL_PAGE}?doc=user`, privacyPage: `${LEGAL_PAGE}?doc=privacy` },
    after: pagePath(options.after, '/pages/index/index'),
    home: pagePath(options.home, '/pages/index/index'),
    guard: { pages: [...(options.guard?.pages ?? [])] },
  };
}

/** A problem with the options, said once at install (development): mp-weixin without an apiBase. */
export function optionsProblem(resolved: ResolvedOptions): string | null {
  if (!isH5() && !resolved.apiBase) return 'wlu-wxlogin: apiBase is required on mp-weixin (the https origin of your API)';
  return null;
}
