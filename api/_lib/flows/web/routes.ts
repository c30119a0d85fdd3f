import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { AppError, fromWechatError } from '../../errors.js';
import { readJson } from '../../http/json.js';
import { toLoginResponse } from '../../users/profile.js';
import { completeWebCallback, startWebLogin, STATE_TTL_MS, takeWebHandoff, type WebLoginDeps } from './login.js';

/** The cookie that binds a login `state` to the browser that started it (login CSRF defence). */
export const WEB_STATE_COOKIE = 'wx_web_state';
const COOKIE_PATH = '/api/auth/web';
/** The H5 login page (history router), which finishes the handoff or shows the error. */
export const H5_LOGIN_PAGE = '/pages/login/index';

export interface WebRouteDeps extends WebLoginDeps {
  /** PUBLIC_BASE_URL: the API's public origin; null = the request's own origin */
  publicBaseUrl: string | null;
  production: boolean;
}

const SessionBody = z.object({ state: z.string().regex(/^[A-Za-z0-9]{1,128}$/, 'must be the web_login state') });

function isSecure(c: Context, production: boolean): boolean {
  return production || new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

function cookieOptions(c: Context, production: boolean, maxAge: number) {
  return { httpOnly: true, sameSite: 'Lax' as const, path: COOKIE_PATH, maxAge, secure: isSecure(c, production) };
}

/** A browser navigation never gets a JSON error page: it goes back to the login page with a code. */
function toLoginPage(c: Context, error: unknown, deps: WebRouteDeps) {
  const known = error instanceof AppError ? error : fromWechatError(error);
  if (!known) deps.logger.log('error', 'auth.web.failed', { path: c.req.path, error });
  else if (known.status >= 500) deps.logger.log('warn', 'auth.web.failed', { path: c.req.path, errorCode: known.code, cause: known.cause ?? known });
  const code = known?.code ?? 'internal_error';
  return c.redirect(`${H5_LOGIN_PAGE}?web_login_error=${code}`, 302);
}

function noStore(c: Context) {
  c.header('cache-control', 'no-store');
  c.header('referrer-policy', 'no-referrer');
}

export function webRoutes(deps: WebRouteDeps) {
  return new Hono()
    .get('/qr', async (c) => {
      noStore(c);
      try {
        const origin = deps.publicBaseUrl ?? new URL(c.req.url).origin;
        const { state, authorizeUrl } = await startWebLogin(deps, { redirectUri: `${origin}${COOKIE_PATH}/callback`, next: c.req.query('next') });
        setCookie(c, WEB_STATE_COOKIE, state, cookieOptions(c, deps.production, STATE_TTL_MS / 1000));
        return c.redirect(authorizeUrl, 302);
      } catch (error) {
        return toLoginPage(c, error, deps);
      }
    })
    .get('/callback', async (c) => {
      noStore(c);
      try {
        const { state, next } = await completeWebCallback(deps, {
          code: c.req.query('code'),
          state: c.req.query('state'),
          cookieState: getCookie(c, WEB_STATE_COOKIE),
        });
        const query = new URLSearchParams({ web_login: state });
        if (next !== '/pages/account/index') query.set('next', next);
        return c.redirect(`${H5_LOGIN_PAGE}?${query}`, 302);
      } catch (error) {
        return toLoginPage(c, error, deps);
      }
    })
    .post('/session', async (c) => {
      const { state } = await readJson(c, SessionBody);
      const result = await takeWebHandoff(deps, { state, cookieState: getCookie(c, WEB_STATE_COOKIE) });
      deleteCookie(c, WEB_STATE_COOKIE, { path: COOKIE_PATH, secure: isSecure(c, deps.production), httpOnly: true, sameSite: 'Lax' });
      return c.json(toLoginResponse(result), 200, { 'cache-control': 'no-store' });
    });
}
