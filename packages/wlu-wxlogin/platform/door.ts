/**
 * The right door on every device (issue 14): which login the H5 page offers, from the browser it
 * runs in. Pure — the User-Agent and the page's environment are passed in — so it is tested with a
 * table of real User-Agent strings (client/tests/door.test.ts). Order matters:
 *   1. the mini-program's own web-view: `miniProgram` in the UA (WeChat ≥ 7.0.0) or
 *      window.__wxjs_environment === 'miniprogram' → log in from the mini-program's session
 *      through a one-time ticket (no second authorization);
 *   2. WeCom (`wxwork`, whose UA also says MicroMessenger) → a page that explains;
 *   3. WeChat's browser (`MicroMessenger`, phone or PC WeChat) → official-account authorization;
 *   4. a phone / tablet browser outside WeChat → 请在微信中打开 with a copy-link button
 *      (iPadOS Safari claims to be a Mac: told apart by touch points);
 *   5. a PC browser → the website QR; without a website app, our own QR confirmed through the
 *      official account (`pc` door), else the official account's follow QR; else the same
 *      explanation when none is offered.
 * What is offered comes from the server (GET <basePath>/doors, offeredDoors below), filtered by the
 * host's `doors` option; the host's option alone only while the server cannot be asked.
 * Sources: developers.weixin.qq.com/miniprogram/dev/component/web-view.html ("从微信7.0.0开始，可以
 * 通过判断userAgent中包含miniProgram字样来判断小程序web-view环境"; __wxjs_environment).
 */
import type { DoorInfo } from '../shared/api';

export type Door =
  | 'mini-webview' // exchange the mini-program's ticket
  | 'wecom' // 企业微信: explain
  | 'oa-authorize' // 公众号网页授权
  | 'open-in-wechat' // 请在微信中打开 + copy link
  | 'web-qr' // 网站应用扫码登录
  | 'pc-qr' // our own QR, confirmed in WeChat through the official account (no website app)
  | 'oa-qr' // 关注公众号登录 (parametric QR)
  | 'unavailable'; // nothing configured for this device

export interface DoorEnvironment {
  userAgent: string;
  /** window.__wxjs_environment ('miniprogram' inside the web-view, 'browser' in WeChat's browser) */
  wxjsEnvironment?: string;
  /** navigator.maxTouchPoints (iPadOS reports a Mac User-Agent) */
  maxTouchPoints?: number;
  /** what the deployment offers (offeredDoors) */
  configured: Configured;
}

/** The browser doors a deployment offers. `pc` (own QR through the official account) is optional: hand-kept lists have none. */
export interface Configured {
  web: boolean;
  oa: boolean;
  oaFollow: boolean;
  pc?: boolean;
}

const MOBILE = /Android|iPhone|iPod|iPad|Mobile|HarmonyOS|OpenHarmony|Windows Phone/i;

export function chooseDoor(env: DoorEnvironment): Door {
  const ua = env.userAgent ?? '';
  if (/miniProgram/i.test(ua) || env.wxjsEnvironment === 'miniprogram') return 'mini-webview';
  if (/wxwork/i.test(ua)) return 'wecom';
  if (/MicroMessenger/i.test(ua)) return env.configured.oa ? 'oa-authorize' : 'unavailable';
  const iPadAsMac = /Macintosh/.test(ua) && (env.maxTouchPoints ?? 0) > 1;
  if (MOBILE.test(ua) || iPadAsMac) return 'open-in-wechat';
  if (env.configured.web) return 'web-qr';
  if (env.configured.pc) return 'pc-qr';
  if (env.configured.oaFollow) return 'oa-qr';
  return 'unavailable';
}

/** What the page says for the doors that do not log in here. */
export const DOOR_TEXT = {
  wecom: '企业微信暂不支持微信登录，请在微信中打开本页面',
  'open-in-wechat': '请在微信中打开',
  unavailable: '当前环境暂不支持登录，请在微信中打开本页面',
} as const;

/**
 * What the deployment offers, from the plugin's `doors` option (createWechatLogin; this repo's host passes VITE_LOGIN_DOORS) (comma-separated: `web` 网站应用扫码,
 * `oa` 公众号网页授权, `oa-follow` 关注公众号登录 — the official account's server URL is set up; default
 * `web,oa`). A site with only an official account builds with `oa,oa-follow`: a PC then gets the
 * follow QR instead of a website QR that would fail.
 */
export function configuredDoors(value: string | undefined): Configured {
  const listed = new Set((value ?? 'web,oa').split(',').map((d) => d.trim()).filter(Boolean));
  return { web: listed.has('web'), oa: listed.has('oa'), oaFollow: listed.has('oa-follow') };
}

/** Doors where the login page shows DoorNotice instead of a login button. */
export function doorHasNoButton(door: Door): boolean {
  return door === 'wecom' || door === 'open-in-wechat' || door === 'mini-webview' || door === 'unavailable';
}

/** One entry of GET <basePath>/doors: `{ doors: [{ name, kind, appid? }, …] }` (names and public AppIDs only). */
/** One door GET <basePath>/doors lists (shared/api.ts, the server's contract). */
export type ServerDoor = DoorInfo;

/** What the login page offers: the browser doors, and whether this mini-program's own door exists. */
export interface OfferedDoors extends Configured {
  pc: boolean;
  /** the mini door named by the `miniProgram` option (mp-weixin's 微信登录) */
  mini: boolean;
}

/** GET <basePath>/doors's body → its doors; anything else (an HTML page, a proxy's answer) → null. */
export function parseServerDoors(body: unknown): ServerDoor[] | null {
  const list = (body as { doors?: unknown } | null)?.doors;
  if (!Array.isArray(list)) return null;
  return list.filter((d): d is ServerDoor => !!d && typeof (d as ServerDoor).name === 'string' && typeof (d as ServerDoor).kind === 'string');
}

/**
 * The doors the login page shows. `server`: GET <basePath>/doors's list, or null when it could not be
 * asked (then the host's options alone, as before the server said). `host`: the host's `doors`
 * option, a filter when `given` (it hides a door, it never adds one the server lacks).
 */
export function offeredDoors(server: readonly ServerDoor[] | null, host: { doors: Configured; given: boolean }, miniProgram: string): OfferedDoors {
  if (!server) return { web: host.doors.web, oa: host.doors.oa, oaFollow: host.doors.oaFollow, pc: false, mini: true };
  const has = (kind: string) => server.some((d) => d.kind === kind);
  const allowed = (flag: boolean) => !host.given || flag;
  return {
    web: has('web') && allowed(host.doors.web),
    oa: has('oa') && allowed(host.doors.oa),
    oaFollow: has('follow') && allowed(host.doors.oaFollow),
    pc: has('pc') && allowed(host.doors.oa), // confirmed in WeChat through the official account
    mini: server.some((d) => d.kind === 'mini' && d.name === miniProgram),
  };
}

/** The running page's environment (H5 only). */
export function currentDoor(configured: Configured): Door {
  const w = typeof window === 'undefined' ? undefined : (window as unknown as { __wxjs_environment?: string });
  return chooseDoor({
    userAgent: typeof navigator === 'undefined' ? '' : navigator.userAgent,
    wxjsEnvironment: w?.__wxjs_environment,
    maxTouchPoints: typeof navigator === 'undefined' ? 0 : navigator.maxTouchPoints,
    configured,
  });
}
