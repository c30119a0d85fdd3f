import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ERROR_CODES, type ErrorBody, type ErrorCode } from '../../../shared/errors.js';
import { AppError, fromWechatError } from '../errors.js';
import { miniRoutes } from '../flows/mini/routes.js';
import type { MiniLoginDeps } from '../flows/mini/login.js';
import type { DecryptDeps } from '../flows/mini/decrypt.js';
import { webRoutes, type WebRouteDeps } from '../flows/web/routes.js';
import { oaRoutes, type OaRouteDeps } from '../flows/oa/routes.js';
import { sessionRoutes } from '../sessions/routes.js';
import type { MeDeps } from '../users/routes.js';
import { readBearerToken } from './auth.js';
import type { Logger } from '../log.js';
import type { SessionManager } from '../sessions/sessions.js';
import type { Store } from '../store/types.js';
import { meRoutes } from '../users/routes.js';

export interface AppDeps {
  store: Store;
  sessions: SessionManager;
  logger: Logger;
  mini: MiniLoginDeps;
  /** website QR login; its endpoints answer web_login_not_configured when `appid` is null */
  web: WebRouteDeps;
  /** official-account web authorization (H5 inside WeChat); oa_login_not_configured when `appid` is null */
  oa: OaRouteDeps;
  decrypt: DecryptDeps;
  phone: MeDeps['phone'];
  checkNickname: MeDeps['checkNickname'];
}

/** JSON bodies we accept are tiny; anything larger is refused before it is read. */
export const MAX_JSON_BYTES = 16 * 1024;

export function errorResponse(c: Context, code: ErrorCode, message?: string, headers?: Record<string, string>) {
  const body: ErrorBody = { error: { code, message: message ?? ERROR_CODES[code].message } };
  return c.json(body, ERROR_CODES[code].status as 400, { 'cache-control': 'no-store', ...headers });
}

export function createApp(deps: AppDeps) {
  const app = new Hono();
  const limit = bodyLimit({ maxSize: MAX_JSON_BYTES, onError: (c) => errorResponse(c, 'payload_too_large') });

  // Set BEFORE next(): the header joins the response when it is built. Setting it after next()
  // makes Hono re-wrap the finished Response, which on @hono/node-server turns its fast path (a
  // buffered body) into a stream and halved a hello-world's rate (docs/BENCH.md).
  app.use('/api/*', async (c, next) => {
    c.header('x-content-type-options', 'nosniff');
    await next();
  });

  app.route('/api/auth/mini', new Hono().use(limit).route('/', miniRoutes({ ...deps.mini, decrypt: deps.decrypt, sessions: deps.sessions })));
  app.route('/api/auth/web', new Hono().use(limit).route('/', webRoutes(deps.web)));
  app.route('/api/auth/oa', new Hono().use(limit).route('/', oaRoutes(deps.oa)));
  app.post('/api/auth/logout', async (c) => {
    const token = readBearerToken(c.req.header('authorization'));
    if (!token) throw new AppError('unauthorized');
    // Logging out an unknown or already revoked token is not an error: the result is the same.
    await deps.sessions.invalidate(token);
    return c.body(null, 204);
  });
  app.route('/api', meRoutes({ store: deps.store, sessions: deps.sessions, logger: deps.logger, phone: deps.phone, checkNickname: deps.checkNickname }));
  app.use('/api/sessions/*', limit);
  app.route('/api/sessions', sessionRoutes(deps.store, deps.sessions));
  app.get('/api/health', (c) => c.json({ ok: true, store: deps.store.kind }));

  // Known paths with a wrong method answer 405 with Allow, everything else 404 — both in the envelope.
  const allowed: Record<string, string> = {
    '/api/auth/mini/login': 'POST',
    '/api/auth/mini/decrypt': 'POST',
    '/api/auth/web/qr': 'GET',
    '/api/auth/web/callback': 'GET',
    '/api/auth/web/session': 'POST',
    '/api/auth/oa/start': 'GET',
    '/api/auth/oa/callback': 'GET',
    '/api/auth/oa/session': 'POST',
    '/api/auth/logout': 'POST',
    '/api/me': 'GET, PATCH, DELETE',
    '/api/me/avatar': 'POST',
    '/api/me/phone': 'POST',
    '/api/avatars/:file': 'GET',
    '/api/sessions': 'GET, DELETE',
    '/api/sessions/:id': 'DELETE',
    '/api/health': 'GET',
  };
  for (const [path, allow] of Object.entries(allowed)) {
    app.all(path, (c) => errorResponse(c, 'method_not_allowed', undefined, { allow }));
  }
  app.notFound((c) => errorResponse(c, 'not_found'));

  app.onError((error, c) => {
    const known = error instanceof AppError ? error : fromWechatError(error);
    if (known) {
      if (known.status >= 500) deps.logger.log('warn', 'http.failed', { path: c.req.path, errorCode: known.code, cause: error.cause ?? error });
      return errorResponse(c, known.code, known.message);
    }
    deps.logger.log('error', 'http.unhandled', { path: c.req.path, error });
    return errorResponse(c, 'internal_error');
  });
  return app;
}
