// wlu-wxlogin-server: the package's public surface. A host builds one instance from typed options and
// mounts its Web-standard handler (or its Hono app) under /api/auth; the adapters for Node http /
// Express, Next.js route handlers and Vercel functions are the subpaths ./node, ./next and ./vercel.
// Nothing else in src/ is importable from outside (package.json `exports`).
import type { Hono, MiddlewareHandler } from 'hono';
import type { PublicUser } from '../../../shared/api.js';
import { checkConfig, ConfigError, type ConfigCheck, type ServerOptions } from './config.js';
import { SealKeyError } from './crypto/seal.js';
import { readBearerToken } from './http/auth.js';
import { errorResponse } from './http/app.js';
import { misconfiguredBody } from './http/failure.js';
import { createServices, misconfiguredApp, type Services } from './main.js';
import type { SessionRecord } from './store/types.js';
import { toPublicUser } from './users/profile.js';

export type { ServerOptions, AppCredentials, DeploymentKind, LogLevel, OaMessageMode, ConfigCheck } from './config.js';
export type { ErrorBody, ErrorCode } from '../../../shared/errors.js';
// the login doors a host lists in `doors` (one factory per door, each with its own app credentials)
export { miniProgram, websiteQr, officialAccount, pcLogin, followToLogin, webviewTicket } from './doors/index.js';
export type { Door, MiniProgramOptions, WebsiteQrOptions, OfficialAccountOptions, MiniProgramDoor, WebsiteQrDoor, OfficialAccountDoor, PcLoginDoor, FollowToLoginDoor, WebviewTicketDoor } from './doors/index.js';
export type { Storage } from './store/types.js';
export type { UserHooks } from './users/hooks.js';

/** The options of `createWechatLogin`: every field is documented on `ServerOptions` (config.ts). */
export type WechatLoginOptions = ServerOptions;

/** The signed-in person as the API shows it (GET /api/auth/me): no openid, no phone digits, no secret. */
export type User = PublicUser;

/** One login session: `id` is the 16-character name the 登录设备 list shows (never the token). */
export interface Session {
  id: string;
  userId: string;
  /** the door it was opened through: 'mini', 'web', 'oa', 'pc', 'webview', … */
  via: SessionRecord['via'];
  createdAt: Date;
  /** sliding: moves forward when the session is used in the second half of its life */
  expiresAt: Date;
}

export interface SessionAndUser {
  session: Session;
  user: User;
}

/** What `middleware()` sets on the Hono context of the host's own routes. */
export interface WechatLoginVariables {
  wxSession: Session;
  wxUser: User;
}

export interface WechatLogin {
  /** The Web-standard handler: every path under /api/auth (Request → Response). */
  handler(request: Request): Promise<Response>;
  /** The same routes as a Hono app; a Hono host mounts it with `app.route('/', auth.app)`. */
  app: Hono;
  /**
   * The session a request carries (`Authorization: Bearer <token>`) and its user, or null when it
   * carries none or an expired/revoked one. Throws when the instance is misconfigured (`check()`).
   */
  getSession(from: Request | Headers): Promise<SessionAndUser | null>;
  /** Hono middleware for the host's own routes: 401 unauthorized envelope, else sets `wxSession`/`wxUser`. */
  middleware(): MiddlewareHandler<{ Variables: WechatLoginVariables }>;
  /** What is wrong for production (problems) and worth knowing (notes); `npm run doctor` prints it. */
  check(): ConfigCheck;
  /** Creates the MongoDB indexes (once per deploy); the embedded store needs none. */
  migrate(): Promise<void>;
  /** Stops the background timers and closes the store this instance opened. */
  close(): Promise<void>;
  /** Server-side operations for the host's own admin code. */
  api: {
    /** 退出所有设备: ends every session of the user. */
    revokeAll(userId: string): Promise<void>;
    /** 注销账号: removes the user, every account merged into it, its sessions, identities and avatar. */
    deleteUser(userId: string): Promise<void>;
  };
  /** Types only (`typeof auth.$Infer.User`); undefined at run time. */
  $Infer: { User: User; Session: Session };
}

/** Thrown by getSession (and answered 503 by the handler and middleware) when the options are wrong. */
export class WechatLoginMisconfigured extends Error {
  constructor(readonly problems: string[]) {
    super(`wlu-wxlogin-server is misconfigured: ${problems.join('; ')}`);
    this.name = 'WechatLoginMisconfigured';
  }
}

/**
 * Builds one login server from its options. Never throws: a configuration that cannot start
 * (production without its secrets, a malformed seal key) answers every request with the JSON 503
 * server_misconfigured envelope naming the problems (option/variable names, never a value), as the
 * Vercel function did before the package. Two instances share nothing (tests/isolation.test.ts).
 */
export function createWechatLogin(options: WechatLoginOptions): WechatLogin {
  let services: Services | null = null;
  let problems: string[] = [];
  try {
    services = createServices(options);
  } catch (error) {
    problems =
      error instanceof ConfigError ? error.problems : error instanceof SealKeyError ? [`SESSION_KEY_ENCRYPTION_KEYS: ${error.message}`] : ['the server failed to start (see the log)'];
    // the cause of an unexpected failure, by name and message (the options' values are never logged)
    const cause = error instanceof ConfigError || error instanceof SealKeyError ? undefined : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.error(JSON.stringify({ level: 'error', event: 'config.invalid', problems, ...(cause && { cause }) }));
  }
  const app: Hono = services ? (services.app as unknown as Hono) : misconfiguredApp(problems);
  const sessions = services?.sessions ?? null;
  const live = () => {
    if (!services || !sessions) throw new WechatLoginMisconfigured(problems);
    return { services, sessions };
  };

  const getSession = async (from: Request | Headers): Promise<SessionAndUser | null> => {
    const { sessions } = live();
    const headers = from instanceof Headers ? from : from.headers;
    const token = readBearerToken(headers.get('authorization') ?? undefined);
    if (!token) return null;
    const { session, user } = await sessions.validate(token);
    if (!session) return null;
    return { session: publicSession(session), user: toPublicUser(user) };
  };

  return {
    handler: async (request) => app.fetch(request),
    app,
    getSession,
    middleware: () => async (c, next) => {
      if (!services) return c.json(misconfiguredBody(problems), 503, { 'cache-control': 'no-store' });
      const found = await getSession(c.req.raw);
      if (!found) return errorResponse(c, 'unauthorized', undefined, { 'www-authenticate': 'Bearer' });
      c.set('wxSession', found.session);
      c.set('wxUser', found.user);
      await next();
    },
    check: () => (services ? checkConfig(services.config) : { problems, notes: [] }),
    // the storage in use migrates itself: `mongodb.uri`'s, or a host's mongoStorage({ db, prefix }) with its prefix
    migrate: async () => live().services.store.migrate?.(),
    async close() {
      if (!services) return;
      services.stop();
      await services.store.close();
    },
    api: {
      revokeAll: (userId) => live().sessions.revokeAll(userId),
      deleteUser: (userId) => live().services.deleteUser(userId),
    },
    $Infer: undefined as unknown as WechatLogin['$Infer'],
  };
}

function publicSession(session: SessionRecord): Session {
  return { id: session.id.slice(0, 16), userId: session.userId, via: session.via, createdAt: session.createdAt, expiresAt: session.expiresAt };
}
