import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { failureOf, logFailure } from '../failure.js';
import { lazySchema, readJson } from '../json.js';
import { OAUTH_STATE_PATTERN } from '../../../../../shared/oauth.js';
import type { Urls } from '../urls.js';
import { cookieJar } from '../cookies.js';
import { toLoginResponse } from '../../users/profile.js';
import { completeOAuthCallback, ConsentRequiredError, DEFAULT_NEXT, startOAuthLogin, STATE_TTL_MS, takeOAuthHandoff, type OAuthDoor, type OAuthLoginDeps } from '../../flows/oauth/login.js';

/**
 * Everything a door's HTTP surface is named after, from its name (`web`, `oa`):
 *   routes       <basePath>/<name>/{start path, callback, session}
 *   cookie       wx_<name>_state (HttpOnly, path <basePath>/<name>): binds the state to the browser
 *   login page   h5LoginPage with <name>_login=<state> | <name>_login_error=<code>
 */
export function doorNames(door: OAuthDoor, urls: Urls) {
  return {
    cookie: `wx_${door.name}_state`,
    basePath: urls.path(`/${door.name}`),
    handoffParam: `${door.name}_login`,
    errorParam: `${door.name}_login_error`,
  };
}

export interface OAuthRouteDeps extends OAuthLoginDeps {
  production: boolean;
  /** every URL built (redirect_uri, cookie path, the H5 login page): base path and PUBLIC_BASE_URL */
  urls: Urls;
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

/** A browser navigation never gets a JSON error page: it goes back to the login page with a code. */
function toLoginPage(c: Context, error: unknown, deps: OAuthRouteDeps) {
  const failure = failureOf(error);
  logFailure(deps.logger, `auth.${deps.door.name}.failed`, c, failure, error);
  const code = failure.code;
  const urls = deps.urls;
  const query = new URLSearchParams({ [doorNames(deps.door, urls).errorParam]: code });
  // the second (snsapi_userinfo) attempt continues where the first was going
  if (error instanceof ConsentRequiredError && error.next && error.next !== DEFAULT_NEXT) query.set('next', error.next);
  return c.redirect(urls.h5Login(query), 302);
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
  const urls = deps.urls;
  const names = doorNames(deps.door, urls);
  const cookies = cookieJar({ path: names.basePath, production: deps.production });
  const app = new Hono();
  if (options.embeddable) {
    // WxLogin (WeChat's QR inside our page): the options for `new WxLogin({...})`, the state bound to this browser
    app.post('/embed', async (c) => {
      const body = await readJson(c, EmbedBody);
      const redirectUri = urls.api(c, `/${deps.door.name}/callback`);
      const { state, authorizeUrl, expiresAt } = await startOAuthLogin(deps, { redirectUri, next: body.next, framed: body.selfRedirect });
      cookies.set(c, names.cookie, state, STATE_TTL_MS / 1000);
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
        const { state, authorizeUrl } = await startOAuthLogin(deps, {
          redirectUri: urls.api(c, `/${deps.door.name}/callback`),
          next: c.req.query('next'),
          scope: c.req.query('scope'),
        });
        cookies.set(c, names.cookie, state, STATE_TTL_MS / 1000);
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
          cookieState: cookies.get(c, names.cookie),
        });
        if (framed && c.req.header('sec-fetch-dest') !== 'document') return framedResult(c, urls.origin(c), { ok: true });
        const query = new URLSearchParams({ [names.handoffParam]: state });
        if (next !== DEFAULT_NEXT) query.set('next', next);
        return c.redirect(urls.h5Login(query), 302);
      } catch (error) {
        if (options.embeddable && c.req.header('sec-fetch-dest') === 'iframe') {
          const failure = failureOf(error);
          logFailure(deps.logger, `auth.${deps.door.name}.failed`, c, failure, error);
          return framedResult(c, urls.origin(c), { ok: false, code: failure.code });
        }
        return toLoginPage(c, error, deps);
      }
    })
    .post('/session', async (c) => {
      const { state } = await readJson(c, SessionBody);
      const result = await takeOAuthHandoff(deps, { state, cookieState: cookies.get(c, names.cookie) });
      cookies.clear(c, names.cookie);
      return c.json(toLoginResponse(result), 200, { 'cache-control': 'no-store' });
    });
}
