import { Hono, type Context } from 'hono';
import { ERROR_CODES, type ErrorBody, type ErrorCode } from '../../../../shared/errors.js';
import { AppError } from '../errors.js';
import { toAppError } from './errors.js';
import { miniRoutes } from './routes/mini.js';
import type { MiniLoginDeps } from '../flows/mini/login.js';
import type { DecryptDeps } from '../flows/mini/decrypt.js';
import { webRoutes, type WebRouteDeps } from './routes/web.js';
import { oaRoutes, type OaRouteDeps } from './routes/oa.js';
import { sessionRoutes } from './routes/sessions.js';
import type { MeDeps } from './routes/me.js';
import { pcAttemptIdOf, pcRoutes, type PcRouteDeps } from './routes/pc.js';
import { readBearerToken } from './auth.js';
import { limitBody } from './json.js';
import { addressBucket, FOLLOW_QR_LIMIT, pcWatchLimit, rateLimit, RateLimitedError, type RateLimiter, type RateLimitSettings } from './rate-limit.js';
import type { Readiness } from './readiness.js';
import { currentRequestId, logs, pickRequestId, runWithRequestId, type Logger } from '../log.js';
import type { SessionManager } from '../sessions/sessions.js';
import type { Store } from '../store/types.js';
import { meRoutes } from './routes/me.js';
import { verifyFileRoutes } from './verify-file.js';
import { oaServerRoutes, type OaServerDeps } from './oa-server.js';
import { webviewRoutes } from './webview.js';
import { forgetGrantsOnDelete, wechatSyncRoutes } from './wechat-sync.js';
import type { WechatSyncDeps } from '../flows/wechat-sync/sync.js';

export interface AppDeps {
  store: Store;
  sessions: SessionManager;
  logger: Logger;
  mini: MiniLoginDeps;
  /** website QR login; its endpoints answer web_login_not_configured when `appid` is null */
  web: WebRouteDeps;
  /** official-account web authorization (H5 inside WeChat); oa_login_not_configured when `appid` is null */
  oa: OaRouteDeps;
  /** PC login with our own QR code confirmed on the phone (flows/attempt); absent: /api/auth/pc is 404 */
  pc?: PcRouteDeps;
  decrypt: DecryptDeps;
  phone: MeDeps['phone'];
  checkNickname: MeDeps['checkNickname'];
  /** per address / per AppID limits on anonymous and WeChat-spending endpoints (absent: none) */
  limits?: { limiter: RateLimiter; settings: RateLimitSettings };
  /** /api/auth/ready: the store's readiness (absent: always ready) */
  readiness?: Readiness;
  /** answer 503 request_timeout once a request has taken this long (absent: no deadline) */
  requestDeadlineMs?: number;
  /** what this deployment runs on (production / preview / development; an ephemeral preview store) — shown by /api/auth/health */
  deployment?: { environment: string; ephemeral: boolean };
  /** tokens of the official account's MP_verify_<token>.txt files (WECHAT_MP_VERIFY) */
  mpVerify?: string[];
  /** 同步微信头像昵称 with the official account's kept grant (absent: wechat_sync_unavailable) */
  wechatSync?: WechatSyncDeps;
  /** the official account's server URL /api/auth/oa/push (absent: answers oa_push_not_configured) */
  oaServer?: OaServerDeps;
}

/** The PC's own requests about its attempt, limited per attempt (pcWatchLimit) instead of per address. */
function isPcWatch(method: string, path: string): boolean {
  return (method === 'GET' && (path === '/api/auth/pc/status' || path === '/api/auth/pc/events')) || (method === 'POST' && path === '/api/auth/pc/session');
}

/** The official account's server URL (消息推送): its own body limit and verification, no per-address limit. */
const OA_PUSH_PATH = '/api/auth/oa/push';

/** JSON bodies we accept are tiny; anything larger is refused before it is read. */
export const MAX_JSON_BYTES = 16 * 1024;

export function errorResponse(c: Context, code: ErrorCode, message?: string, headers?: Record<string, string>) {
  const requestId = currentRequestId();
  const body: ErrorBody = { error: { code, message: message ?? ERROR_CODES[code].message, ...(requestId ? { requestId } : {}) } };
  return c.json(body, ERROR_CODES[code].status as 400, { 'cache-control': 'no-store', ...headers });
}

export function createApp(deps: AppDeps) {
  const app = new Hono();
  const limit = limitBody(MAX_JSON_BYTES, (c) => errorResponse(c, 'payload_too_large'));

  // One id per request: on every log line written while it runs, in every error body, and in x-request-id.
  // Headers are set BEFORE next(): they join the response when it is built. Setting them after next()
  // makes Hono re-wrap the finished Response, which on @hono/node-server turns its fast path (a
  // buffered body) into a stream and halved a hello-world's rate (docs/BENCH.md).
  // The per-request debug line is written inside the same request scope (one AsyncLocalStorage run,
  // not two) and only when debug lines are written at all (docs/BENCH.md, "API CPU per login").
  const debugLines = logs(deps.logger, 'debug');
  app.use('*', (c, next) => {
    const requestId = pickRequestId(c.req.header('x-request-id'), c.req.header('x-vercel-id'));
    c.header('x-request-id', requestId);
    if (!debugLines) return runWithRequestId(requestId, next);
    const started = Date.now();
    return runWithRequestId(requestId, async () => {
      await next();
      deps.logger.log('debug', 'http.request', { method: c.req.method, path: c.req.path, status: c.res.status, ms: Date.now() - started });
    });
  });

  app.use('/api/*', async (c, next) => {
    c.header('x-content-type-options', 'nosniff');
    await next();
  });

  if (deps.requestDeadlineMs) {
    // Worst case inside Vercel's maxDuration (10 s): a database socket timeout plus a token lease
    // wait plus a WeChat timeout could add up past it; whatever is still running then is answered
    // 503 request_timeout (the work itself finishes or fails in the background).
    const deadlineMs = deps.requestDeadlineMs;
    // One timer and one promise per request (a Promise.race over three promises cost more, and every
    // promise pays the request scope's async hook).
    app.use('/api/*', (c, next) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          deps.logger.log('warn', 'http.deadline', { path: c.req.path, deadlineMs });
          c.res = errorResponse(c, 'request_timeout');
          resolve();
        }, deadlineMs);
        next().then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (error) => {
            clearTimeout(timer);
            reject(error); // a no-op once the deadline has answered
          },
        );
      }),
    );
  }

  if (deps.limits) {
    // Anonymous endpoints and every endpoint that spends a WeChat call, per client address
    // (docs/SECURITY.md); the per-AppID limit is charged just before each WeChat call (main.ts).
    const { limiter, settings } = deps.limits;
    const refuse = (c: Context, retryAfter: number) => {
      deps.logger.log('info', 'http.rate_limited', { path: c.req.path, errorCode: 'too_many_requests', retryAfter });
      return errorResponse(c, 'too_many_requests', undefined, { 'retry-after': String(retryAfter) });
    };
    const limited = rateLimit(limiter, settings, refuse);
    // a PC's own status / events / collect with its attempt cookie: per attempt, not per address
    const pcWatch = pcWatchLimit(limiter, settings, pcAttemptIdOf, refuse);
    app.use('/api/auth/mini/login', limited);
    app.use('/api/auth/web/*', limited);
    // not the push endpoint below: WeChat's servers call it (signed), from a few addresses
    app.use('/api/auth/oa/*', (c, next) => (c.req.path === OA_PUSH_PATH ? next() : limited(c, next)));
    app.use('/api/auth/pc/*', (c, next) => (isPcWatch(c.req.method, c.req.path) ? pcWatch(c, next) : limited(c, next)));
    app.use('/api/auth/logout', limited);
    app.use('/api/auth/webview/*', limited);
    app.on(['POST'], '/api/auth/me/wechat-profile', limited);
    app.on(['POST'], '/api/auth/me/phone', limited);
    app.on(['PATCH', 'PUT'], '/api/auth/me', limited);
  }

  app.route('/api/auth/mini', new Hono().use(limit).route('/', miniRoutes({ ...deps.mini, decrypt: deps.decrypt, sessions: deps.sessions })));
  app.route('/api/auth/web', new Hono().use(limit).route('/', webRoutes(deps.web)));
  app.route('/api/auth/oa', new Hono().use((c, next) => (c.req.path === OA_PUSH_PATH ? next() : limit(c, next))).route('/', oaRoutes(deps.oa)));
  app.route('/api/auth/webview', new Hono().use(limit).route('/', webviewRoutes({ store: deps.store, sessions: deps.sessions, logger: deps.logger, clock: deps.mini.clock })));
  // 关注公众号登录: a new parametric QR spends the official account's qrcode/create quota — its own per-address limit
  const limits = deps.limits;
  const followQrLimit = limits
    ? (c: Context) => {
        const key = `follow-qr:${addressBucket(c, limits.settings)}`;
        const decision = limits.limiter.hit([{ key, ...FOLLOW_QR_LIMIT, limit: limits.settings.perAddress === 0 ? 0 : FOLLOW_QR_LIMIT.limit }]);
        if (decision.allowed) return;
        deps.logger.log('info', 'http.rate_limited', { path: c.req.path, errorCode: 'too_many_requests', retryAfter: decision.retryAfter });
        throw new RateLimitedError(decision.retryAfter); // 429 + Retry-After (onError), as the per-AppID limit
      }
    : undefined;
  if (deps.pc) app.route('/api/auth/pc', new Hono().use(limit).route('/', pcRoutes({ followQrLimit, ...deps.pc })));
  app.post('/api/auth/logout', async (c) => {
    const token = readBearerToken(c.req.header('authorization'));
    if (!token) throw new AppError('unauthorized');
    // Logging out an unknown or already revoked token is not an error: the result is the same.
    await deps.sessions.invalidate(token);
    return c.body(null, 204);
  });
  if (deps.wechatSync) app.route('/api/auth/me/wechat-profile', wechatSyncRoutes({ ...deps.wechatSync, sessions: deps.sessions }));
  if (deps.wechatSync) app.on(['DELETE'], '/api/auth/me', forgetGrantsOnDelete({ ...deps.wechatSync, sessions: deps.sessions }));
  app.route('/api/auth', meRoutes({ store: deps.store, sessions: deps.sessions, logger: deps.logger, phone: deps.phone, checkNickname: deps.checkNickname }));
  app.use('/api/auth/sessions/*', limit);
  app.route('/api/auth/sessions', sessionRoutes(deps.sessions));
  // Called by WeChat's servers only, every request signed: not rate limited by address (WeChat
  // pushes from a few addresses); a forged one costs a sha1 and no store call.
  app.route(OA_PUSH_PATH, oaServerRoutes(deps.oaServer ?? { server: null, store: deps.store, logger: deps.logger, port: { markScanned: async () => 'unknown', confirmUrl: () => '' } }));
  app.route('/', verifyFileRoutes(deps.mpVerify ?? []));
  // Liveness: the process runs and its configuration passed the start-up checks. Cheap on purpose —
  // it loads no database driver (a cold start measured on it pays for nothing else; docs/BENCH.md).
  app.get('/api/auth/health', (c) => c.json({ ok: true, store: deps.store.kind, ready: '/api/auth/ready', ...deps.deployment }, 200, { 'cache-control': 'no-store' }));
  // Readiness: the store answered a ping within the last second (cached), else 503. Point uptime
  // checks and load balancers here (docs/DEPLOY.md).
  app.get('/api/auth/ready', async (c) => {
    const ready = deps.readiness ? await deps.readiness.check() : { ok: true };
    if (!ready.ok) return errorResponse(c, 'store_unavailable', undefined, { 'retry-after': '1' });
    return c.json({ ok: true, store: deps.store.kind, ...deps.deployment }, 200, { 'cache-control': 'no-store' });
  });

  // Known paths with a wrong method answer 405 with Allow, everything else 404 — both in the envelope.
  const allowed: Record<string, string> = {
    '/api/auth/mini/login': 'POST',
    '/api/auth/mini/decrypt': 'POST',
    '/api/auth/web/qr': 'GET',
    '/api/auth/web/embed': 'POST',
    '/api/auth/web/callback': 'GET',
    '/api/auth/web/session': 'POST',
    '/api/auth/oa/start': 'GET',
    '/api/auth/oa/callback': 'GET',
    '/api/auth/oa/session': 'POST',
    '/api/auth/oa/push': 'GET, POST',
    '/api/auth/webview/ticket': 'POST',
    '/api/auth/me/wechat-profile': 'POST',
    '/api/auth/webview/session': 'POST',
    '/api/auth/pc/attempt': 'POST',
    '/api/auth/pc/follow-qr': 'POST',
    '/api/auth/pc/status': 'GET',
    '/api/auth/pc/events': 'GET',
    '/api/auth/pc/session': 'POST',
    '/api/auth/pc/scan': 'GET',
    '/api/auth/pc/callback': 'GET',
    '/api/auth/pc/confirm': 'GET, POST',
    '/api/auth/logout': 'POST',
    '/api/auth/me': 'GET, PUT, PATCH, DELETE',
    '/api/auth/me/avatar': 'POST',
    '/api/auth/me/phone': 'POST',
    '/api/auth/avatars/:file': 'GET',
    '/api/auth/sessions': 'GET, DELETE',
    '/api/auth/sessions/:id': 'DELETE',
    '/api/auth/health': 'GET',
    '/api/auth/ready': 'GET',
  };
  for (const [path, allow] of Object.entries(allowed)) {
    app.all(path, (c) => errorResponse(c, 'method_not_allowed', undefined, { allow }));
  }
  app.notFound((c) => errorResponse(c, 'not_found'));

  app.onError((error, c) => {
    const known = toAppError(error);
    // Failed logins are logged with their error code, like the successful ones (auth.<door>.login).
    const door = c.req.path === OA_PUSH_PATH ? undefined : /^\/api\/auth\/(mini|web|oa|pc)\//.exec(c.req.path)?.[1];
    if (known) {
      if (known.status >= 500) deps.logger.log('warn', 'http.failed', { path: c.req.path, errorCode: known.code, cause: known.cause ?? error });
      else if (door) deps.logger.log('info', `auth.${door}.failed`, { path: c.req.path, errorCode: known.code, status: known.status });
      return errorResponse(c, known.code, known.message, known instanceof RateLimitedError ? { 'retry-after': String(known.retryAfter) } : undefined);
    }
    deps.logger.log('error', 'http.unhandled', { path: c.req.path, error });
    return errorResponse(c, 'internal_error');
  });
  return app;
}
