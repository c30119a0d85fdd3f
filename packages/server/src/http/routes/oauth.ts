import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { toAppError } from '../errors.js';
import { lazySchema, readJson } from '../json.js';
import { H5_LOGIN_PAGE, OAUTH_STATE_PATTERN } from '../../../../../shared/oauth.js';
import { toLoginResponse } from '../../users/profile.js';
import { completeOAuthCallback, ConsentRequiredError, DEFAULT_NEXT, startOAuthLogin, STATE_TTL_MS, takeOAuthHandoff, type OAuthDoor, type OAuthLoginDeps } from '../../flows/oauth/login.js';

/** The H5 login page (history router), which finishes the handoff or shows the error (shared/oauth.ts). */
export { H5_LOGIN_PAGE };

/**
 * Where the browser goes back to the H5 page. The explicit empty fragment matters: a browser keeps
 * the current URL's fragment across a redirect whose Location has none, so WeChat's required
 * `#wechat_redirect` (docs/WECHAT.md "The authorize URLs") would ride along start → authorize → callback → page
 * and stay in the address bar.
 */
function toH5Page(query: string): string {
  return `${H5_LOGIN_PAGE}?${query}#`;
}

/**
 * Everything a door's HTTP surface is named after, from its name (`web`, `oa`):
 *   routes       /api/auth/<name>/{start path, callback, session}
 *   cookie       wx_<name>_state (HttpOnly, path /api/auth/<name>): binds the state to the browser
 *   login page   /uni_modules/wlu-wxlogin/pages/login/index?<name>_login=<state> | ?<name>_login_error=<code>
 */
export function doorNames(door: OAuthDoor) {
  return {
    cookie: `wx_${door.name}_state`,
    basePath: `/api/auth/${door.name}`,
    handoffParam: `${door.name}_login`,
    errorParam: `${door.name}_login_error`,
  };
}

export interface OAuthRouteDeps extends OAuthLoginDeps {
  /** PUBLIC_BASE_URL: the API's public origin; null = the request's own origin */
  publicBaseUrl: string | null;
  production: boolean;
}

/** WeChat's own WxLogin script (docs/WECHAT.md, "WxLogin"); against the simulator, the simulator's copy. */
export const WXLOGIN_SCRIPT = 'https://res.wx.qq.com/connect/zh_CN/htmledition/js/wxLogin.js';
export function wxLoginScriptUrl(openBaseUrl: string): string {
  return new URL(openBaseUrl).hostname === 'open.weixin.qq.com' ? WXLOGIN_SCRIPT : `${openBaseUrl}/connect/zh_CN/htmledition/js/wxLogin.js`;
}

const EmbedBody = lazySchema((z) => z.object({ next: z.string().max(512).optional(), selfRedirect: z.boolean() }));

/**
 * The callback's answer inside WxLogin's iframe (self_redirect true): a tiny page that tells its
 * parent — our own login page, checked by origin on both sides — whether the login is ready to be
 * collected. It carries no state, code or token: the parent already knows its state, and only
 * its cookie collects the handoff.
 */
function framedResult(c: Context, origin: string, result: { ok: true } | { ok: false; code: string }) {
  const nonce = randomBytes(16).toString('base64');
  const message = JSON.stringify({ type: 'wechat-login', door: 'web', ...result });
  c.header('content-security-policy', `default-src 'none'; script-src 'nonce-${nonce}'; frame-ancestors 'self'`);
  return c.html(
    `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>微信登录</title></head><body><p id="status">${result.ok ? '登录中…' : '登录失败'}</p>` +
      `<script nonce="${nonce}">parent.postMessage(${message.replace(/</g, '\\u003c')}, ${JSON.stringify(origin)});</script></body></html>`,
  );
}

const SessionBody = lazySchema((z) => z.object({ state: z.string().regex(OAUTH_STATE_PATTERN, 'must be the login state from the login page URL') }));

function isSecure(c: Context, production: boolean): boolean {
  return production || new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

function cookieOptions(c: Context, production: boolean, path: string, maxAge?: number) {
  return { httpOnly: true, sameSite: 'Lax' as const, path, ...(maxAge === undefined ? {} : { maxAge }), secure: isSecure(c, production) };
}

/** A browser navigation never gets a JSON error page: it goes back to the login page with a code. */
function toLoginPage(c: Context, error: unknown, deps: OAuthRouteDeps) {
  const known = toAppError(error);
  const event = `auth.${deps.door.name}.failed`;
  if (!known) deps.logger.log('error', event, { path: c.req.path, error });
  else if (known.status >= 500) deps.logger.log('warn', event, { path: c.req.path, errorCode: known.code, cause: known.cause ?? known });
  else deps.logger.log('info', event, { path: c.req.path, errorCode: known.code });
  const code = known?.code ?? 'internal_error';
  const query = new URLSearchParams({ [doorNames(deps.door).errorParam]: code });
  // the second (snsapi_userinfo) attempt continues where the first was going
  if (error instanceof ConsentRequiredError && error.next && error.next !== DEFAULT_NEXT) query.set('next', error.next);
  return c.redirect(toH5Page(query.toString()), 302);
}

function noStore(c: Context) {
  c.header('cache-control', 'no-store');
  c.header('referrer-policy', 'no-referrer');
}

/**
 * A door's three endpoints. `startPath` is where the H5 page sends the browser (`?next=`, and
 * `?scope=` where the door has several scopes); WeChat redirects back to `/callback`; the login
 * page collects the session with `POST /session {state}`.
 */
export function oauthRoutes(deps: OAuthRouteDeps, startPath: string, options: { embeddable?: boolean } = {}) {
  const names = doorNames(deps.door);
  const app = new Hono();
  if (options.embeddable) {
    // WxLogin (WeChat's QR inside our page): the options for `new WxLogin({...})`, the state bound to this browser
    app.post('/embed', async (c) => {
      const body = await readJson(c, EmbedBody);
      const origin = deps.publicBaseUrl ?? new URL(c.req.url).origin;
      const redirectUri = `${origin}${names.basePath}/callback`;
      const { state, authorizeUrl, expiresAt } = await startOAuthLogin(deps, { redirectUri, next: body.next, framed: body.selfRedirect });
      setCookie(c, names.cookie, state, cookieOptions(c, deps.production, names.basePath, STATE_TTL_MS / 1000));
      const params = new URL(authorizeUrl).searchParams;
      return c.json(
        { appid: params.get('appid'), scope: params.get('scope'), redirectUri, state, selfRedirect: body.selfRedirect, scriptUrl: wxLoginScriptUrl(deps.openBaseUrl), expiresAt: expiresAt.toISOString() },
        200,
        { 'cache-control': 'no-store' },
      );
    });
  }
  return app
    .get(startPath, async (c) => {
      noStore(c);
      try {
        const origin = deps.publicBaseUrl ?? new URL(c.req.url).origin;
        const { state, authorizeUrl } = await startOAuthLogin(deps, {
          redirectUri: `${origin}${names.basePath}/callback`,
          next: c.req.query('next'),
          scope: c.req.query('scope'),
        });
        setCookie(c, names.cookie, state, cookieOptions(c, deps.production, names.basePath, STATE_TTL_MS / 1000));
        return c.redirect(authorizeUrl, 302);
      } catch (error) {
        return toLoginPage(c, error, deps);
      }
    })
    .get('/callback', async (c) => {
      noStore(c);
      try {
        const { state, next, framed } = await completeOAuthCallback(deps, {
          code: c.req.query('code'),
          state: c.req.query('state'),
          cookieState: getCookie(c, names.cookie),
        });
        if (framed && c.req.header('sec-fetch-dest') !== 'document') return framedResult(c, deps.publicBaseUrl ?? new URL(c.req.url).origin, { ok: true });
        const query = new URLSearchParams({ [names.handoffParam]: state });
        if (next !== DEFAULT_NEXT) query.set('next', next);
        return c.redirect(toH5Page(query.toString()), 302);
      } catch (error) {
        if (options.embeddable && c.req.header('sec-fetch-dest') === 'iframe') {
          const known = toAppError(error);
          deps.logger.log(known && known.status < 500 ? 'info' : 'warn', `auth.${deps.door.name}.failed`, { path: c.req.path, errorCode: known?.code ?? 'internal_error' });
          return framedResult(c, deps.publicBaseUrl ?? new URL(c.req.url).origin, { ok: false, code: known?.code ?? 'internal_error' });
        }
        return toLoginPage(c, error, deps);
      }
    })
    .post('/session', async (c) => {
      const { state } = await readJson(c, SessionBody);
      const result = await takeOAuthHandoff(deps, { state, cookieState: getCookie(c, names.cookie) });
      deleteCookie(c, names.cookie, cookieOptions(c, deps.production, names.basePath));
      return c.json(toLoginResponse(result), 200, { 'cache-control': 'no-store' });
    });
}
