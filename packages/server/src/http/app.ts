import { Hono, type Context } from 'hono';
import { AppError } from '../errors.js';
import { errorResponse, failureOf, logFailure } from './failure.js';

export { errorResponse };
import { sessionRoutes } from './routes/sessions.js';
import type { MeDeps } from './routes/me.js';
import { readBearerToken } from './auth.js';
import { limitBody, MAX_JSON_BYTES } from './json.js';
import { attemptLimit, rateLimit, RateLimitedError, type LimitClass, type RateLimiter, type RateLimitSettings } from './rate-limit.js';
import type { Readiness } from './readiness.js';
import { logs, pickRequestId, runWithRequestId, type Logger } from '../log.js';
import type { SessionManager } from '../sessions/sessions.js';
import type { Storage } from '../store/types.js';
import { meRoutes } from './routes/me.js';
import { verifyFileRoutes } from './verify-file.js';
import { wechatSyncRoutes } from './wechat-sync.js';
import type { Urls } from './urls.js';
import type { WechatSyncDeps } from '../flows/wechat-sync/sync.js';
import type { DoorInfo, DoorsResponse } from '../../../../shared/api.js';

export interface AppDeps {
  /** every URL the product builds and the base path every route is under */
  urls: Urls;
  store: Storage;
  sessions: SessionManager;
  logger: Logger;
  /**
   * The login doors, mounted at <basePath>/<name> (doors/ builds them from ServerOptions.doors): their
   * routes, rate-limit classes, 405 entries and failure log names come from here, nothing per door below.
   */
  doors: readonly MountedDoor[];
  phone: MeDeps['phone'];
  checkNickname: MeDeps['checkNickname'];
  deleteUser: MeDeps['deleteUser'];
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
}

/** A door as the HTTP edge mounts it at <basePath>/<name> (doors/door.ts Door, its routes built). */
export interface MountedDoor {
  name: string;
  /** null: the door adds to others and has no routes of its own */
  routes: Hono<any> | null;
  /** sub-path → the methods it answers (405 with Allow otherwise) */
  allowed: Readonly<Record<string, string>>;
  /** sub-path (exact, or '/*') → how it is rate limited; first match wins, unlisted: per address */
  limits: Readonly<Record<string, LimitClass>>;
  /** the 'attempt' class's key (doors/door.ts Door.attemptOf); absent: that class is per address */
  attemptOf?: ((c: Context) => string | null) | undefined;
  /** failures under it are logged `auth.<name>.failed` */
  logsFailures: boolean;
  /** sub-paths whose failures are not a login's */
  quiet?: readonly string[] | undefined;
  /** what GET <basePath>/doors says about it (names and public AppIDs only); null: not shown */
  info: DoorInfo | null;
}

/** The door a path (relative to the base path) is under, and the rest of the path. */
function doorOf(doors: readonly MountedDoor[], path: string): { door: MountedDoor; sub: string } | null {
  const name = /^\/([^/]+)(\/.*)?$/.exec(path);
  const door = name ? doors.find((d) => d.name === name[1]) : undefined;
  return door ? { door, sub: name?.[2] ?? '' } : null;
}

/** A door's limit class for a sub-path: the first matching entry (exact, or a '/*' prefix), else per address. */
export function limitClassOf(door: Pick<MountedDoor, 'limits'>, sub: string): LimitClass {
  for (const [pattern, cls] of Object.entries(door.limits)) {
    if (pattern === sub || (pattern.endsWith('/*') && sub.startsWith(pattern.slice(0, -1)))) return cls;
  }
  return 'address';
}

/** Where uploaded avatars were served before every route moved under the base path. */
const LEGACY_AVATAR_PATH = '/api/avatars/';

/** JSON bodies we accept are tiny; anything larger is refused before it is read. */
export { MAX_JSON_BYTES };

export function createApp(deps: AppDeps) {
  const app = new Hono();
  const urls = deps.urls;
  /** a route's full path: every route is relative to the base path */
  const at = urls.path;
  /** the request's path relative to the base path (null: outside it) */
  const relative = (path: string) => (path === urls.basePath || path.startsWith(`${urls.basePath}/`) ? path.slice(urls.basePath.length) : null);
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

  // every answer, inside the base path or not (404s included)
  app.use('*', async (c, next) => {
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
    app.use(at('/*'), (c, next) =>
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
    for (const door of deps.doors) {
      if (!door.routes) continue;
      // requests about one of the door's attempts (a PC's own status / events / collect): per attempt, not per address
      const perAttempt = door.attemptOf ? attemptLimit(limiter, settings, door.name, door.attemptOf, refuse) : limited;
      // one middleware per door: its table picks the class (the push endpoint: none — WeChat's servers call it, signed)
      app.use(at(`/${door.name}/*`), (c, next) => {
        const cls = limitClassOf(door, relative(c.req.path)?.slice(door.name.length + 1) ?? '');
        return cls === 'none' ? next() : cls === 'attempt' ? perAttempt(c, next) : limited(c, next);
      });
    }
    app.use(at('/logout'), limited);
    app.on(['POST'], at('/me/wechat-profile'), limited);
    app.on(['POST'], at('/me/phone'), limited);
    app.on(['PATCH', 'PUT'], at('/me'), limited);
  }

  for (const door of deps.doors) if (door.routes) app.route(at(`/${door.name}`), door.routes);
  // which doors exist (names and public AppIDs, never a secret): the client shows its buttons from it
  const doorList = deps.doors.flatMap((d) => (d.info ? [d.info] : []));
  app.get(at('/doors'), (c) => c.json<DoorsResponse>({ doors: doorList }, 200, { 'cache-control': 'no-store' }));
  app.post(at('/logout'), async (c) => {
    const token = readBearerToken(c.req.header('authorization'));
    if (!token) throw new AppError('unauthorized');
    // Logging out an unknown or already revoked token is not an error: the result is the same.
    await deps.sessions.invalidate(token);
    return c.body(null, 204);
  });
  if (deps.wechatSync) app.route(at('/me/wechat-profile'), wechatSyncRoutes({ ...deps.wechatSync, sessions: deps.sessions }));
  app.route(at('') || '/', meRoutes({ store: deps.store, sessions: deps.sessions, logger: deps.logger, phone: deps.phone, checkNickname: deps.checkNickname, avatarPath: at('/avatars/'), deleteUser: deps.deleteUser }));
  // Avatars uploaded before issue 20 are stored as /api/avatars/<id>.jpg (users' avatarUrl): sent on,
  // permanently, to where they are served now, so an upgrade breaks no profile picture.
  if (at('/avatars/') !== LEGACY_AVATAR_PATH) {
    app.get(`${LEGACY_AVATAR_PATH}:file{[0-9a-f]{32}\\.jpg}`, (c) => c.redirect(at(`/avatars/${c.req.param('file')}`), 308));
  }
  app.use(at('/sessions/*'), limit);
  app.route(at('/sessions'), sessionRoutes(deps.sessions));
  app.route('/', verifyFileRoutes(deps.mpVerify ?? []));
  // Liveness: the process runs and its configuration passed the start-up checks. Cheap on purpose —
  // it loads no database driver (a cold start measured on it pays for nothing else; docs/BENCH.md).
  app.get(at('/health'), (c) => c.json({ ok: true, store: deps.store.kind, ready: at('/ready'), ...deps.deployment }, 200, { 'cache-control': 'no-store' }));
  // Readiness: the store answered a ping within the last second (cached), else 503. Point uptime
  // checks and load balancers here (docs/DEPLOY.md).
  app.get(at('/ready'), async (c) => {
    const ready = deps.readiness ? await deps.readiness.check() : { ok: true };
    if (!ready.ok) return errorResponse(c, 'store_unavailable', undefined, { 'retry-after': '1' });
    return c.json({ ok: true, store: deps.store.kind, ...deps.deployment }, 200, { 'cache-control': 'no-store' });
  });

  // Known paths with a wrong method answer 405 with Allow, everything else 404 — both in the envelope.
  const allowed: Record<string, string> = {
    ...Object.fromEntries(deps.doors.flatMap((d) => Object.entries(d.allowed).map(([sub, allow]) => [at(`/${d.name}${sub}`), allow]))),
    [at('/doors')]: 'GET',
    [at('/me/wechat-profile')]: 'POST',
    [at('/logout')]: 'POST',
    [at('/me')]: 'GET, PUT, PATCH, DELETE',
    [at('/me/avatar')]: 'POST',
    [at('/me/phone')]: 'POST',
    [at('/avatars/:file')]: 'GET',
    [at('/sessions')]: 'GET, DELETE',
    [at('/sessions/:id')]: 'DELETE',
    [at('/health')]: 'GET',
    [at('/ready')]: 'GET',
  };
  for (const [path, allow] of Object.entries(allowed)) {
    app.all(path, (c) => errorResponse(c, 'method_not_allowed', undefined, { allow }));
  }
  app.notFound((c) => errorResponse(c, 'not_found'));

  app.onError((error, c) => {
    const failure = failureOf(error);
    // Failed logins are logged with their error code, like the successful ones (auth.<door>.login).
    const path = relative(c.req.path);
    const under = path === null ? null : doorOf(deps.doors, path);
    const door = under && under.door.logsFailures && under.sub.startsWith('/') && !under.door.quiet?.includes(under.sub) ? under.door.name : undefined;
    if (!failure.known) logFailure(deps.logger, 'http.unhandled', c, failure, error);
    else if (failure.status >= 500) logFailure(deps.logger, 'http.failed', c, failure, error);
    else if (door) logFailure(deps.logger, `auth.${door}.failed`, c, failure, error, { status: failure.status });
    const known = failure.known;
    return errorResponse(c, failure.code, known ? failure.message : undefined, known instanceof RateLimitedError ? { 'retry-after': String(known.retryAfter) } : undefined);
  });
  return app;
}
