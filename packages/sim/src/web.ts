import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import QRCode from 'qrcode';
import { CodeBook } from './codes.js';
import { checkCodeExchange, wxError, wxJson } from './errors.js';
import { withFaults } from './faults.js';
import { OAUTH_STATE_PATTERN } from '../../../shared/oauth.js';
import { base62 } from './ids.js';
import type { SimApp, SimState } from './state.js';

/**
 * Website QR login (docs/WECHAT.md "Browser OAuth"): the browser-facing qrconnect page on
 * open.weixin.qq.com, the phone that scans it, and the server APIs sns/oauth2/access_token and
 * sns/userinfo. Codes are single use; a website-login (snsapi_login) code lives 10 minutes ("code
 * 的超时时间为 10 分钟", WeChat's knowledge base), an official account's 5 ("5分钟未被使用自动过期").
 * A QR code expires 5 minutes after the page was opened.
 */
export const QR_TTL_MS = 5 * 60 * 1000;
/** website app (snsapi_login) */
export const WEB_CODE_TTL_MS = 10 * 60 * 1000;
/** official account (snsapi_base / snsapi_userinfo) */
export const OA_CODE_TTL_MS = 5 * 60 * 1000;
export const OAUTH_TOKEN_TTL_S = 7200;
/** §5: "refresh_token有效期为30天" (website and official account) */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
/**
 * `state` follows shared/oauth.ts (§5: a-zA-Z0-9, at most 128). qrconnect takes none; the official
 * account's authorize page refuses an empty one (§5 10013 state不能为空).
 */
export const STATE = OAUTH_STATE_PATTERN;
export const USER = /^[A-Za-z0-9_.-]{1,64}$/;

export type QrStatus = 'waiting' | 'scanned' | 'confirmed' | 'cancelled' | 'expired';

export interface QrSession {
  uuid: string;
  appid: string;
  redirectUri: string;
  state: string;
  createdAt: number;
  status: QrStatus;
  user: string | null;
  /** set on confirm: redirect_uri?code=CODE&state=STATE */
  redirectUrl: string | null;
}

interface WebCode {
  appid: string;
  user: string;
  /** snsapi_login (website), snsapi_base / snsapi_userinfo (official account) */
  scope: string;
  /** issued on a snapshot page (快照页): virtual ids, is_snapshotuser: 1 */
  snapshot: boolean;
  expiresAt: number;
  used: boolean;
}

interface OAuthToken {
  appid: string;
  user: string;
  scope: string;
  snapshot: boolean;
  expiresAt: number;
  /** the person withdrew this authorization (POST /__sim/users/revoke): 42007 */
  revoked?: boolean;
}

interface Grant extends OAuthToken {
  /** the grant's current access_token (sns/oauth2/refresh_token extends it while it is unexpired) */
  accessToken: string;
}

export class WebState {
  private readonly qrs = new Map<string, QrSession>();
  private readonly codes: CodeBook<WebCode>;
  private readonly tokens = new Map<string, OAuthToken>();
  /** refresh_token → its grant, valid 30 days (§5 "refresh_token有效期为30天"), not renewed by use */
  private readonly refreshTokens = new Map<string, Grant>();
  /** every access_token and refresh_token handed out, so tests can assert they leak nowhere */
  readonly issuedSecrets: string[] = [];

  constructor(private readonly clock: () => number) {
    this.codes = new CodeBook(clock, true);
  }

  createQr(appid: string, redirectUri: string, state: string): QrSession {
    const now = this.clock();
    for (const [k, q] of this.qrs) if (q.createdAt + 2 * QR_TTL_MS < now) this.qrs.delete(k);
    const qr: QrSession = { uuid: randomUUID().replace(/-/g, ''), appid, redirectUri, state, createdAt: now, status: 'waiting', user: null, redirectUrl: null };
    this.qrs.set(qr.uuid, qr);
    return qr;
  }

  /** The newest QR page opened for (appid, state) — what a WxLogin iframe shows (the dev "phone" link, phone-link.ts). */
  newestFor(appid: string, state: string): QrSession | null {
    let newest: QrSession | null = null;
    for (const qr of this.qrs.values()) if (qr.appid === appid && qr.state === state && (!newest || qr.createdAt >= newest.createdAt)) newest = qr;
    return newest && this.get(newest.uuid);
  }

  /** The QR session, with its status brought up to date (a waiting/scanned QR expires after 5 minutes). */
  get(uuid: string): QrSession | null {
    const qr = this.qrs.get(uuid);
    if (!qr) return null;
    if ((qr.status === 'waiting' || qr.status === 'scanned') && this.clock() >= qr.createdAt + QR_TTL_MS) qr.status = 'expired';
    return qr;
  }

  /** The phone scanned the QR code (the person `user` opened it in WeChat). */
  scan(uuid: string, user: string): QrSession | string {
    const qr = this.get(uuid);
    if (!qr) return 'unknown uuid';
    if (qr.status === 'scanned' && qr.user === user) return qr;
    if (qr.status !== 'waiting') return `QR code is ${qr.status}`;
    qr.status = 'scanned';
    qr.user = user;
    return qr;
  }

  /** 确认登录 on the phone: a single-use code, and the browser is sent to redirect_uri. */
  confirm(uuid: string): QrSession | string {
    const qr = this.get(uuid);
    if (!qr) return 'unknown uuid';
    if (qr.status !== 'scanned' || !qr.user) return `QR code is ${qr.status}${qr.status === 'waiting' ? ' (scan it first)' : ''}`;
    qr.status = 'confirmed';
    qr.redirectUrl = this.codeRedirect(qr.appid, qr.user, 'snsapi_login', qr.redirectUri, qr.state);
    return qr;
  }

  /** A single-use OAuth code for (appid, user, scope) — 10 minutes for snsapi_login, else 5 — as WeChat's redirect_uri?code=CODE&state=STATE. */
  codeRedirect(appid: string, user: string, scope: string, redirectUri: string, state: string, snapshot = false): string {
    const code = base62(32);
    const ttl = scope === 'snsapi_login' ? WEB_CODE_TTL_MS : OA_CODE_TTL_MS;
    this.codes.issue(code, { appid, user, scope, snapshot, expiresAt: this.clock() + ttl, used: false });
    const url = new URL(redirectUri);
    url.searchParams.set('code', code);
    url.searchParams.set('state', state);
    return url.toString();
  }

  cancel(uuid: string): QrSession | string {
    const qr = this.get(uuid);
    if (!qr) return 'unknown uuid';
    if (qr.status !== 'waiting' && qr.status !== 'scanned') return `QR code is ${qr.status}`;
    qr.status = 'cancelled';
    return qr;
  }

  redeemCode(appid: string, code: string): { user: string; scope: string; snapshot: boolean } | { errcode: 40029 | 40163 } {
    const entry = this.codes.redeem(code, appid);
    return 'errcode' in entry ? entry : { user: entry.user, scope: entry.scope, snapshot: entry.snapshot };
  }

  issueToken(appid: string, user: string, scope: string, snapshot = false): { accessToken: string; refreshToken: string } {
    const accessToken = this.mintAccessToken({ appid, user, scope, snapshot });
    const refreshToken = `${base62(12)}_${base62(100)}`;
    this.refreshTokens.set(refreshToken, { appid, user, scope, snapshot, accessToken, expiresAt: this.clock() + REFRESH_TOKEN_TTL_MS });
    this.issuedSecrets.push(refreshToken);
    return { accessToken, refreshToken };
  }

  private mintAccessToken(grant: Pick<OAuthToken, 'appid' | 'user' | 'scope' | 'snapshot'>): string {
    const accessToken = `${base62(12)}_${base62(100)}`;
    const { appid, user, scope, snapshot } = grant;
    this.tokens.set(accessToken, { appid, user, scope, snapshot, expiresAt: this.clock() + OAUTH_TOKEN_TTL_S * 1000 });
    this.issuedSecrets.push(accessToken);
    return accessToken;
  }

  /**
   * sns/oauth2/refresh_token (docs/WECHAT.md "Official account server side"): while the grant's
   * access_token is unexpired it stays the same and its expiry moves 2 hours on ("不会改变
   * access_token，但超时时间会刷新，相当于续期"); once expired a new one is minted. 40030 unknown /
   * another app's refresh_token, 42002 past 30 days, 42007 withdrawn.
   */
  refresh(appid: string, refreshToken: string): { accessToken: string; grant: OAuthToken } | { errcode: 40030 | 42002 | 42007 } {
    const grant = this.refreshTokens.get(refreshToken);
    if (!grant || grant.appid !== appid) return { errcode: 40030 };
    if (grant.revoked) return { errcode: 42007 };
    const now = this.clock();
    if (now >= grant.expiresAt) return { errcode: 42002 };
    const current = this.tokens.get(grant.accessToken);
    if (current && now < current.expiresAt) current.expiresAt = now + OAUTH_TOKEN_TTL_S * 1000;
    else grant.accessToken = this.mintAccessToken(grant);
    return { accessToken: grant.accessToken, grant };
  }

  /**
   * The person withdrew the authorization in WeChat (or changed the password): every access_token
   * and refresh_token of theirs for the app answers 42007 from now on. A new authorization works.
   */
  revoke(appid: string, user: string): number {
    let count = 0;
    for (const map of [this.tokens, this.refreshTokens]) {
      for (const v of map.values()) {
        if (v.appid === appid && v.user === user && !v.revoked) {
          v.revoked = true;
          count++;
        }
      }
    }
    return count;
  }

  checkToken(token: string | undefined): OAuthToken | 41001 | 40001 | 42001 | 42007 {
    if (!token) return 41001;
    const entry = this.tokens.get(token);
    if (!entry) return 40001;
    if (entry.revoked) return 42007;
    if (this.clock() >= entry.expiresAt) return 42001;
    return entry;
  }
}

export const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function page(title: string, body: string, status = 200): Response {
  const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;text-align:center;padding:32px;color:#333}.qr{width:220px;height:220px}.tip{color:#888;font-size:14px}.err{color:#e64340}button{font-size:16px;padding:8px 24px;margin:8px}</style></head><body>${body}</body></html>`;
  return new Response(html, { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
}

export function errorPage(reason: string, errcode?: number): Response {
  // WeChat shows 该链接无法访问 for a wrong appid / redirect_uri / scope; the reason helps developers.
  const code = errcode ? ` data-errcode="${errcode}"` : '';
  return page('微信登录', `<h2>该链接无法访问</h2><p class="err" id="error"${code} data-error="${esc(reason)}">${errcode ? `错误码 ${errcode}：` : ''}${esc(reason)}</p>`, 400);
}

/** The documented parameters of open.weixin.qq.com/connect/oauth2/authorize, in their documented order. */
export const AUTHORIZE_PARAM_ORDER = ['appid', 'redirect_uri', 'response_type', 'scope', 'state'] as const;

/**
 * WeChat matches the official account's authorize link against a strict pattern: "微信会对授权链接做
 * 正则强匹配校验，如果链接的参数顺序不对，授权页面将无法正常访问" (docs/WECHAT.md "The authorize URLs").
 * The documented parameters must come first, each once, in the order appid, redirect_uri,
 * response_type, scope[, state]; anything else (forcePopup, the simulator's sim_user) after them.
 * A missing parameter is left to the usual checks. Returns the reason, or null when the order is right.
 */
export function authorizeOrderError(params: URLSearchParams): string | null {
  const keys = [...params.keys()];
  const documented: readonly string[] = AUTHORIZE_PARAM_ORDER;
  const present = documented.filter((k) => keys.includes(k));
  const leading = keys.slice(0, present.length);
  if (leading.join('&') === present.join('&') && present.every((k) => params.getAll(k).length === 1)) return null;
  return `链接参数顺序不对：须依次为 ${documented.join('、')}（收到 ${keys.join('、')}）`;
}

const KIND_NAMES = { web: '网站应用 (website app)', oa: '公众号 (official account)' } as const;

/**
 * The official account's authorize page names an empty parameter by its error code (§5): 10010
 * scope不能为空, 10011 redirect_uri不能为空, 10012 appid不能为空, 10013 state不能为空.
 */
const OA_EMPTY_ERRCODES = { appid: 10012, redirect_uri: 10011, scope: 10010, state: 10013 } as const;

function emptyParam(kind: 'web' | 'oa', name: keyof typeof OA_EMPTY_ERRCODES): Response {
  if (kind === 'oa') return errorPage(`${name}不能为空`, OA_EMPTY_ERRCODES[name]);
  return errorPage(`${name} 不能为空 (${name} missing)`);
}

/**
 * The checks WeChat makes on its browser-facing authorize pages (qrconnect, oauth2/authorize):
 * a registered app of the right kind, an http(s) redirect_uri, response_type=code, a scope the
 * kind has and a state of at most 128 [A-Za-z0-9] — required by the official account's page
 * (10013), optional on qrconnect. Returns the parsed request or the error page.
 */
export function checkAuthorize(
  state: SimState,
  q: Record<string, string>,
  kind: 'web' | 'oa',
  scopes: readonly string[],
): { app: SimApp; redirect: URL; state: string; scope: string } | Response {
  if (!q.appid) return emptyParam(kind, 'appid');
  const app = state.apps.get(q.appid);
  if (!app || app.kind !== kind) return errorPage(`appid 不是已登记的${KIND_NAMES[kind]} (unknown ${kind} appid)`);
  if (!q.redirect_uri) return emptyParam(kind, 'redirect_uri');
  let redirect: URL;
  try {
    redirect = new URL(q.redirect_uri);
    if (redirect.protocol !== 'http:' && redirect.protocol !== 'https:') throw new Error('scheme');
  } catch {
    return errorPage('redirect_uri 不合法 (redirect_uri is not an http(s) URL)');
  }
  // §5 10003 redirect_uri域名与后台配置不一致 (official account); §4 该链接无法访问 (website app)
  if (!state.redirectAllowed(app, redirect)) {
    const where = kind === 'oa' ? '网页授权域名' : '授权回调域';
    return errorPage(`redirect_uri 域名与后台配置不一致：${redirect.host} 不在${where}（${(app.domains ?? []).join('、') || '未配置'}）中`, kind === 'oa' ? 10003 : undefined);
  }
  if (q.response_type !== 'code') return errorPage('response_type 必须为 code');
  if (!q.scope && kind === 'oa') return emptyParam(kind, 'scope');
  if (!q.scope || !scopes.includes(q.scope)) return errorPage(`scope 必须为 ${scopes.join(' 或 ')} (scope not allowed for this app)`);
  const stateParam = q.state ?? '';
  if (!stateParam && kind === 'oa') return emptyParam(kind, 'state');
  if (stateParam && !STATE.test(stateParam)) return errorPage('state 只能包含 a-zA-Z0-9，最多 128 个字符');
  return { app, redirect, state: stateParam, scope: q.scope };
}

/** The phone's messages when a QR code cannot be scanned, in Chinese. */
function scanErrorText(reason: string): string {
  if (reason === 'unknown uuid') return '二维码无效，请在电脑上刷新二维码';
  if (reason === 'QR code is expired') return '二维码已过期，请在电脑上刷新二维码';
  if (reason === 'QR code is confirmed') return '二维码已使用，请在电脑上刷新二维码';
  if (reason === 'QR code is cancelled') return '已取消此次登录，请在电脑上刷新二维码';
  if (reason === 'QR code is scanned') return '二维码已被扫描';
  return '无法登录，请在电脑上刷新二维码';
}

/**
 * WeChat's WxLogin.js (docs/WECHAT.md, facts §4): `new WxLogin({ id, appid, scope, redirect_uri, state,
 * self_redirect, style, href, stylelite, fast_login })` puts an iframe (300 × 400, no border, no
 * scrolling) of qrconnect?…&login_type=jssdk into the element `id`. redirect_uri is inserted as given:
 * the caller must encodeURIComponent it. The frame may navigate the top window (self_redirect false).
 * Served at the path WeChat serves it under on res.wx.qq.com; the iframe points at this simulator.
 */
export const WXLOGIN_JS_PATH = '/connect/zh_CN/htmledition/js/wxLogin.js';

function wxLoginScript(origin: string): string {
  return `(function () {
  var ORIGIN = ${JSON.stringify(origin)};
  function WxLogin(a) {
    var selfRedirect = 'default';
    if (a.self_redirect === true) selfRedirect = 'true';
    else if (a.self_redirect === false) selfRedirect = 'false';
    var frame = document.createElement('iframe');
    var src = ORIGIN + '/connect/qrconnect?appid=' + a.appid + '&scope=' + a.scope + '&redirect_uri=' + a.redirect_uri + '&state=' + a.state +
      '&login_type=jssdk&self_redirect=' + selfRedirect + '&styletype=' + (a.styletype || '') + '&sizetype=' + (a.sizetype || '') + '&bgcolor=' + (a.bgcolor || '') + '&rst=' + (a.rst || '');
    src += a.style ? '&style=' + a.style : '';
    src += a.href ? '&href=' + a.href : '';
    src += a.lang === 'en' ? '&lang=en' : '';
    src += a.stylelite === 1 || a.stylelite === '1' ? '&stylelite=1' : '';
    src += a.fast_login === 0 || a.fast_login === '0' ? '&fast_login=0' : '';
    frame.src = src;
    frame.frameBorder = '0';
    frame.allowTransparency = 'true';
    frame.scrolling = 'no';
    frame.width = '300px';
    frame.height = '400px';
    frame.setAttribute('sandbox', 'allow-scripts allow-top-navigation allow-same-origin');
    var el = document.getElementById(a.id);
    el.innerHTML = '';
    el.appendChild(frame);
    if (typeof a.onReady === 'function') frame.onload = function () { a.onReady(true); };
  }
  window.WxLogin = WxLogin;
})();
`;
}

/** The qrconnect page inside WxLogin's iframe: WeChat's compact look and texts, honouring the options. */
function jssdkPage(q: Record<string, string>, qr: { uuid: string; phoneUrl: string; dataUrl: string; statusUrl: string }): Response {
  const selfRedirect = q.self_redirect === 'true';
  const lite = q.stylelite === '1';
  const white = q.style === 'white';
  // href: a custom stylesheet (https, or a data:text/css URL); ignored with stylelite=1 (§4)
  let custom = '';
  if (q.href && !lite && (/^https:\/\//.test(q.href) || /^data:text\/css/.test(q.href))) custom = `<link rel="stylesheet" href="${esc(q.href)}">`;
  const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>微信登录</title><link rel="icon" href="data:,">
<style>
html,body{margin:0;background:transparent;font-family:"Microsoft YaHei","PingFang SC",system-ui,sans-serif;text-align:center;color:${white ? '#fff' : '#333'}}
.impowerBox .title{font-size:20px;margin:16px 0 8px}
.impowerBox .qrcode{width:${lite ? 220 : 280}px;height:${lite ? 220 : 280}px;margin-top:${lite ? 8 : 15}px;border:1px solid #e2e2e2}
.impowerBox .info{font-size:13px;margin-top:12px;line-height:1.6}
.impowerBox .status_icon{font-size:28px}
.impowerBox .refresh{color:#07c160;cursor:pointer;text-decoration:underline;background:none;border:0;font-size:13px}
.lite .title{display:none}
</style>${custom}</head><body>
<div class="impowerBox${lite ? ' lite' : ''}" id="box" data-self-redirect="${selfRedirect}" data-style="${white ? 'white' : 'black'}" data-stylelite="${lite ? 1 : 0}" data-fast-login="${q.fast_login === '0' ? 0 : 1}" data-custom-css="${custom ? 1 : 0}">
<div class="title">微信登录</div>
<div id="qr" data-uuid="${qr.uuid}" data-phone-url="${esc(qr.phoneUrl)}"><img class="qrcode" alt="二维码" src="${qr.dataUrl}"></div>
<div class="info"><p id="status" data-status="waiting">请使用微信扫一扫登录</p><button class="refresh" id="refresh" type="button" hidden onclick="location.reload()">点击刷新</button></div>
</div>
<script>
(function () {
  var el = document.getElementById('status');
  var texts = { waiting: '请使用微信扫一扫登录', scanned: '扫描成功，请在微信中点击确认即可登录', cancelled: '二维码已失效', expired: '二维码已失效' };
  var timer = setInterval(function () {
    fetch(${JSON.stringify(qr.statusUrl)}, { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) {
      el.setAttribute('data-status', s.status);
      if (s.status === 'confirmed' && s.redirectUrl) {
        clearInterval(timer);
        // self_redirect true: the iframe itself goes to redirect_uri; otherwise the top window does
        if (${selfRedirect}) location.href = s.redirectUrl; else window.top.location.href = s.redirectUrl;
        return;
      }
      el.textContent = texts[s.status] || '';
      if (s.status === 'cancelled' || s.status === 'expired') { clearInterval(timer); document.getElementById('refresh').hidden = false; }
    }).catch(function () {});
  }, 1000);
})();
</script></body></html>`;
  return new Response(html, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
}

export function webApi(state: SimState) {
  return new Hono()
    .get(WXLOGIN_JS_PATH, (c) => c.body(wxLoginScript(new URL(c.req.url).origin), 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=300' }))
    .get('/connect/qrconnect', async (c) => {
      const query = c.req.query();
      // WxLogin's iframe URL carries no response_type (docs/WECHAT.md, facts §4, the script's src): code is implied
      const jssdk = query.login_type === 'jssdk';
      const checked = checkAuthorize(state, jssdk ? { response_type: 'code', ...query } : query, 'web', ['snsapi_login']);
      if (checked instanceof Response) return checked;
      const { app, redirect, state: stateParam } = checked;
      const qr = state.web.createQr(app.appid, redirect.toString(), stateParam);
      const phoneUrl = `${new URL(c.req.url).origin}/__sim/web/scan/${qr.uuid}`;
      const dataUrl = await QRCode.toDataURL(phoneUrl, { margin: 1, width: 220 });
      const statusUrl = `/connect/qrconnect/status/${qr.uuid}`;
      if (jssdk) return jssdkPage(query, { uuid: qr.uuid, phoneUrl, dataUrl, statusUrl });
      return page(
        '微信登录',
        `<h2>微信登录</h2>
<div id="qr" data-uuid="${qr.uuid}" data-phone-url="${esc(phoneUrl)}"><img class="qr" alt="二维码" src="${dataUrl}"></div>
<p id="status" data-status="waiting">请使用微信扫描二维码登录</p>
<button id="refresh" type="button" hidden onclick="location.reload()">刷新二维码</button>
<p class="tip">微信模拟器：用手机打开 <a href="${esc(phoneUrl)}?user=alice">${esc(phoneUrl)}</a></p>
<script>
(function () {
  var el = document.getElementById('status');
  var texts = { waiting: '请使用微信扫描二维码登录', scanned: '已扫码，请在手机上确认', cancelled: '你已取消此次登录', expired: '二维码已过期' };
  var timer = setInterval(function () {
    fetch(${JSON.stringify(statusUrl)}, { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) {
      el.setAttribute('data-status', s.status);
      if (s.status === 'confirmed' && s.redirectUrl) { clearInterval(timer); el.textContent = '登录中…'; location.href = s.redirectUrl; return; }
      el.textContent = texts[s.status] || '';
      if (s.status === 'cancelled' || s.status === 'expired') {
        clearInterval(timer);
        // a new QR code = reloading this page (WeChat shows 二维码已失效 + 刷新)
        document.getElementById('refresh').hidden = false;
      }
    }).catch(function () {});
  }, 1000);
})();
</script>`,
      );
    })
    .get('/connect/qrconnect/status/:uuid', (c) => {
      const qr = state.web.get(c.req.param('uuid'));
      if (!qr) return c.json({ status: 'expired' }, 404, { 'cache-control': 'no-store' });
      return c.json({ status: qr.status, ...(qr.status === 'confirmed' ? { redirectUrl: qr.redirectUrl } : {}) }, 200, { 'cache-control': 'no-store' });
    })
    // The phone: what WeChat shows after scanning the QR code (a simulated person `user`).
    .get('/__sim/web/scan/:uuid', (c) => {
      const uuid = c.req.param('uuid');
      const user = c.req.query('user') || 'alice';
      if (!USER.test(user)) return page('微信登录', '<p class="err">user 只能包含 A-Za-z0-9_.-</p>', 400);
      const result = state.web.scan(uuid, user);
      if (typeof result === 'string') return page('微信登录', `<p class="err" id="status">${esc(scanErrorText(result))}</p>`, 400);
      const app = state.apps.get(result.appid);
      return page(
        '微信登录',
        `<h2>确认登录</h2><p>${esc(user)} 将登录网站应用 ${esc(app?.appid ?? '')}</p><p class="tip">微信模拟器 · 模拟用户 ${esc(user)}</p>
<button id="confirm" type="button">确认登录</button><button id="cancel" type="button">取消</button><p id="status"></p>
<script>
function post(path, text) {
  fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uuid: ${JSON.stringify(uuid)} }) })
    .then(function (r) { document.getElementById('status').textContent = r.ok ? text : '操作失败'; });
}
document.getElementById('confirm').onclick = function () { post('/__sim/web/confirm', '已确认，请回到电脑上继续'); };
document.getElementById('cancel').onclick = function () { post('/__sim/web/cancel', '已取消'); };
</script>`,
      );
    })
    .get('/sns/oauth2/access_token', withFaults(state, 'oauth2_access_token'), (c) => {
      const checked = checkCodeExchange(c, state.apps, c.req.query(), 'code');
      if (checked instanceof Response) return checked;
      const { app, code } = checked;
      const appid = app.appid;
      const redeemed = state.web.redeemCode(appid, code);
      if ('errcode' in redeemed) return wxError(c, redeemed.errcode);
      const { user, scope, snapshot } = redeemed;
      const { accessToken, refreshToken } = state.web.issueToken(appid, user, scope, snapshot);
      // §5 / §10: the official account's unionid comes "只有当scope为snsapi_userinfo时"; never with snsapi_base.
      const unionid = scope === 'snsapi_base' ? null : state.oauthUnionid(app, user, snapshot);
      return wxJson(c, {
        access_token: accessToken,
        expires_in: OAUTH_TOKEN_TTL_S,
        refresh_token: refreshToken,
        openid: state.oauthOpenid(appid, user, snapshot),
        scope,
        ...(unionid ? { unionid } : {}),
        // §5: "只有当用户是快照页模式虚拟账号时返回，值为1"
        ...(snapshot ? { is_snapshotuser: 1 } : {}),
      });
    })
    .get('/sns/oauth2/refresh_token', withFaults(state, 'sns_refresh_token'), (c) => {
      const { appid, grant_type: grantType, refresh_token: refreshToken } = c.req.query();
      if (!appid) return wxError(c, 41002);
      if (!refreshToken) return wxError(c, 41003);
      if (grantType !== 'refresh_token') return wxError(c, 40002);
      if (!state.apps.has(appid)) return wxError(c, 40013);
      const result = state.web.refresh(appid, refreshToken);
      if ('errcode' in result) return wxError(c, result.errcode);
      const { grant } = result;
      return wxJson(c, { access_token: result.accessToken, expires_in: OAUTH_TOKEN_TTL_S, refresh_token: refreshToken, openid: state.oauthOpenid(appid, grant.user, grant.snapshot), scope: grant.scope });
    })
    .get('/sns/auth', (c) => {
      const { access_token: token, openid } = c.req.query();
      const entry = state.web.checkToken(token);
      if (typeof entry === 'number') return wxError(c, entry === 40001 ? 40014 : entry);
      if (!openid || openid !== state.oauthOpenid(entry.appid, entry.user, entry.snapshot)) return wxError(c, 40003);
      return wxJson(c, { errcode: 0, errmsg: 'ok' });
    })
    .get('/sns/userinfo', withFaults(state, 'sns_userinfo'), (c) => {
      const { access_token: token, openid, lang } = c.req.query();
      const entry = state.web.checkToken(token);
      if (typeof entry === 'number') return wxError(c, entry);
      if (!openid) return wxError(c, 41009);
      if (openid !== state.oauthOpenid(entry.appid, entry.user, entry.snapshot)) return wxError(c, 40003);
      // an official account's snsapi_base authorization grants the openid only
      if (entry.scope === 'snsapi_base') return wxError(c, 48001);
      const app = state.apps.get(entry.appid)!;
      const unionid = state.oauthUnionid(app, entry.user, entry.snapshot);
      const person = state.people.get(entry.user) ?? {};
      // §5 snapshot page: "头像、昵称、openId、unionId 均为虚拟账号数据"
      const nickname = entry.snapshot ? '微信用户' : (person.nickname ?? entry.user);
      const headimgurl = entry.snapshot ? '' : (person.headimgurl ?? `https://thirdwx.qlogo.cn/mmopen/vi_32/sim${openid.slice(1, 17)}/132`);
      const body = JSON.stringify({
        openid,
        nickname,
        sex: 0,
        // §5: the observed reply carries language (lang: zh_CN | zh_TW | en)
        language: lang === 'en' || lang === 'zh_TW' ? lang : 'zh_CN',
        province: '',
        city: '',
        country: '',
        headimgurl,
        privilege: [],
        ...(unionid ? { unionid } : {}),
      });
      // WeChat has sent control characters inside nicknames unescaped (invalid JSON): do the same.
      return c.body(body.replace(/\\u00([01][0-9a-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 200, { 'content-type': 'text/plain' });
    });
}
