import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertProductionReady, describeDeployment, resolveConfig, type Config, type ServerOptions } from './config.js';
import { createSealer, parseSealKeys, type Sealer } from './crypto/seal.js';
import { Hono } from 'hono';
import { misconfiguredBody } from './http/failure.js';
import { createApp, errorResponse, MAX_JSON_BYTES } from './http/app.js';
import { limitBody } from './http/json.js';
import type { DoorContext } from './doors/door.js';
import { deleteAccount } from './users/delete.js';
import type { OfficialAccountDoor } from './doors/oa.js';
import { phoneDeps, type MiniProgramDoor } from './doors/mini.js';
import { followOf } from './doors/follow.js';
import { appidQuota, followQrLimiter, RateLimiter } from './http/rate-limit.js';
import { clientAddress } from './http/client-address.js';
import { createReadiness } from './http/readiness.js';
import { createLogger, type Logger } from './log.js';
import { createSessionManager, type SessionManager } from './sessions/sessions.js';
import { EmbeddedStore } from './store/embedded.js';
import { lazyStorage } from './store/lazy.js';
import type { Storage } from './store/types.js';
import { createTransport, type WechatTransport } from './wechat/transport.js';
import { msgSecCheck } from './wechat/security/msg_sec_check.js';
import { stableToken } from './wechat/auth/stable_token.js';
import { snsUserInfo } from './wechat/sns/userinfo.js';
import { createDbNotifier, type AttemptNotifier } from './flows/attempt/notify.js';
import { ATTEMPT_VALUE_FIELDS, createChangeStreamNotifier } from './flows/attempt/change-stream.js';
import { createAccessTokens, type AccessTokens } from './wechat/access-token.js';
import { followerKey, type AttemptPort } from './flows/follow/attempt-port.js';
import { markAttemptScanned, type AttemptDeps } from './flows/attempt/attempt.js';
import { PC_PATH } from './http/routes/pc.js';
import { createUrls, type Urls } from './http/urls.js';
import type { OaServerDeps } from './http/oa-server.js';
import type { FollowCapability } from './doors/follow.js';
import { forgetGrants, type WechatSyncDeps } from './flows/wechat-sync/sync.js';
import { oauth2RefreshToken } from './wechat/sns/oauth2_refresh_token.js';
import { snsAuth } from './wechat/sns/auth.js';

/**
 * The composition root: typed options (config.ts ServerOptions; secrets included) → store, WeChat
 * client, sessions → Hono app. Nothing here reads the environment: hosts map theirs (this
 * repository: api/_host.ts `optionsFromEnv`), and two instances with different options share nothing.
 */
export interface Services {
  config: Config;
  store: Storage;
  sessions: SessionManager;
  logger: Logger;
  transport: WechatTransport;
  sealer: Sealer;
  accessTokens: AccessTokens;
  limiter: RateLimiter;
  /** the official account's access_token (null without WECHAT_OA_APPID/SECRET) */
  oaAccessTokens: AccessTokens | null;
  /** follow-to-login: the adapter over the PC login attempt (followAttemptPort) and the OA calls */
  follow: (FollowCapability & { port: AttemptPort }) | null;
  /** tells waiting PC pages that their login attempt changed (flows/attempt/notify.ts) */
  notifier: AttemptNotifier;
  /** 注销账号 (DELETE /me, auth.api.deleteUser): the account, its merged accounts, their kept WeChat grants; the userDeleted hook */
  deleteUser(userId: string): Promise<void>;
  app: ReturnType<typeof createApp>;
  /** stops the background timers (rate-limit sync, expiry sweep); the store stays open */
  stop(): void;
}

export interface ServiceOverrides {
  store?: Storage;
  logger?: Logger;
  fetch?: typeof fetch;
  clock?: () => Date;
  sweepIntervalMs?: number;
  /** the PC-login notifier's database read interval (default NOTIFY_INTERVAL_MS) */
  notifyIntervalMs?: number;
  /** /api/auth/oa/push's in-memory limits (http/push-limits.ts PUSH_LIMITS) */
  oaPushLimits?: OaServerDeps['limits'];
}

export function createServices(options: ServerOptions, overrides: ServiceOverrides = {}): Services {
  const config = resolveConfig(options);
  assertProductionReady(config);
  const logger = overrides.logger ?? createLogger(undefined, config.logLevel);
  const store: Storage =
    overrides.store ??
    config.storage ??
    (config.mongodbUri ? mongoStore(config.mongodbUri, config.mongodbDb) : new EmbeddedStore({ dir: config.dataDir }));
  // the host's user table (ServerOptions.hooks): told after each account change is stored
  const userEvents = config.hooks ? { hooks: config.hooks, logger } : undefined;
  const sealer = createSealer(parseSealKeys(config.sealKeys ?? devSealKey(config, !overrides.store)));
  const transport = createTransport({ baseUrls: config.wechatBaseUrls, timeoutMs: config.wechatTimeoutMs, logger, fetch: overrides.fetch });
  const sessions = createSessionManager(store, overrides.clock);
  // every URL the product builds follows the base path and the public origin (http/urls.ts)
  const urls = createUrls(config);
  const limiter = new RateLimiter({ store, logger });
  // The per-AppID limit: charged just before each WeChat call made for a request (after validation)
  const spend = appidQuota(limiter, config.rateLimit.perAppid);
  // Token fetches may go through a fixed-IP relay (WeChat's IP whitelist); other calls go direct.
  const tokenTransport = config.wechatTokenBaseUrl
    ? createTransport({ baseUrls: [config.wechatTokenBaseUrl], timeoutMs: config.wechatTimeoutMs, logger, fetch: overrides.fetch, headers: relayHeaders(config) })
    : transport;
  // One access_token per AppID and instance, shared by every door of that app (doors/ ask for it).
  const tokensByAppid = new Map<string, AccessTokens>();
  const accessTokensOf = (app: { appid: string; secret: string }) => {
    let tokens = tokensByAppid.get(app.appid);
    if (!tokens) {
      tokens = createAccessTokens({ appid: app.appid, store, sealer, logger, fetchToken: (force) => stableToken(tokenTransport, app, force) });
      tokensByAppid.set(app.appid, tokens);
    }
    return tokens;
  };
  // The first mini-program: /me/phone (kept for clients that predate <mini>/phone) uses its access_token.
  const accessTokens = accessTokensOf(config.mini);
  // The nickname check runs on a mini-program the person logged in through: the first listed mini door
  // whose app holds an openid of theirs (msg_sec_check needs one), with THAT app's token and budget.
  const minis = config.doors.filter((d): d is MiniProgramDoor => d.kind === 'mini' && Boolean(d.app?.appid && d.app.secret));
  const checkNickname = async (nickname: string, userId: string) => {
    const identities = (await store.accounts.listIdentities(userId)).filter((i) => i.kind === 'oid' && i.openid);
    const door = minis.find((d) => identities.some((i) => i.appid === d.app.appid));
    const identity = door && identities.find((i) => i.appid === door.app.appid);
    if (!door || !identity?.openid) return true; // no mini-program identity to check against
    // over the AppID's budget: the edit is refused (429), never saved unchecked
    return spend(door.app.appid, async () => {
      try {
        const { suggest } = await accessTokensOf(door.app).withToken((token) => msgSecCheck(transport, token, { content: nickname, openid: identity.openid!, scene: 1 }));
        return suggest !== 'risky';
      } catch (error) {
        // Fail open: an unavailable check must not block every profile edit; it is logged for review.
        logger.log('warn', 'wechat.msg_sec_check.skipped', { userId, error });
        return true;
      }
    });
  };
  // PC login live status: MongoDB → one change stream per instance (polling when the server refuses
  // change streams: FerretDB, a standalone mongod); the embedded store → polling + in-process wake-ups
  const changes = overrides.store ? undefined : store.recordChanges?.('attempt:', ATTEMPT_VALUE_FIELDS);
  const notifier =
    changes
      ? createChangeStreamNotifier({
          store,
          logger,
          source: changes,
          intervalMs: overrides.notifyIntervalMs,
          clock: overrides.clock,
        })
      : createDbNotifier(store, { intervalMs: overrides.notifyIntervalMs, clock: overrides.clock });
  const attemptDeps: AttemptDeps = { store, sessions, logger, clock: overrides.clock, ttlMs: config.pcAttemptTtlMs };
  const followPort = followAttemptPort(attemptDeps, notifier, urls);
  const rateSettings = { ...config.rateLimit, address: config.clientAddress };
  // Everything a door's routes are built from (doors/door.ts), once per instance.
  const doorState = new Map<string, unknown>();
  const ctx: DoorContext = {
    doors: config.doors,
    urls,
    store,
    sessions,
    sealer,
    logger,
    clock: overrides.clock,
    production: config.production,
    appName: config.appName,
    openBaseUrl: config.openBaseUrl,
    mpBaseUrl: config.mpBaseUrl,
    wechat: { transport, spend, accessTokens: accessTokensOf },
    limitBody: limitBody(MAX_JSON_BYTES, (c) => errorResponse(c, 'payload_too_large')),
    attempt: attemptDeps,
    notifier,
    followPort,
    pc: {
      streamMs: config.pcEventsStreamMs,
      longPollMs: Math.max(1000, Math.min(20_000, config.requestDeadlineMs - 1000)),
      // the PC's and the phone's network addresses (shown on the confirmation page), derived as the rate limits do
      clientAddress: (c) => clientAddress(c, config.clientAddress),
    },
    followQrLimit: followQrLimiter(limiter, rateSettings, logger),
    oaPushLimits: overrides.oaPushLimits,
    once: (door, key, make) => {
      const id = `${door.kind}:${door.name}:${key}`;
      if (!doorState.has(id)) doorState.set(id, make());
      return doorState.get(id) as ReturnType<typeof make>;
    },
    userEvents,
  };
  const oaDoor = config.doors.find((d): d is OfficialAccountDoor => d.kind === 'oa');
  const oaCredentials = oaDoor?.app?.appid && oaDoor.app.secret ? oaDoor.app : null;
  const oaAccessTokens = oaCredentials ? accessTokensOf(oaCredentials) : null;
  const followCapability = oaDoor ? followOf(ctx, oaDoor) : null;
  const follow: Services['follow'] = followCapability ? { port: followPort, ...followCapability } : null;
  const wechatSync: WechatSyncDeps = {
    appid: oaCredentials?.appid ?? null,
    store,
    sealer,
    logger,
    clock: overrides.clock,
    refresh: (refreshToken) => spend(oaCredentials?.appid, () => oauth2RefreshToken(transport, oaCredentials!.appid, refreshToken)),
    checkAccessToken: (accessToken, openid) => spend(oaCredentials?.appid, () => snsAuth(transport, accessToken, openid)),
    getUserInfo: (accessToken, openid) => spend(oaCredentials?.appid, () => snsUserInfo(transport, accessToken, openid)),
  };
  const deleteUser = (userId: string) => deleteAccount(store, userId, { events: userEvents, forget: (id) => forgetGrants(wechatSync, id) });
  const sweeper = startSweeper(store, logger, overrides.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
  const deployment = describeDeployment(config);
  if (deployment.ephemeral) {
    logger.log('warn', 'deployment.ephemeral_preview', { message: 'preview on a throwaway /tmp embedded store with a random seal key: users and sessions vanish with the instance' });
  }
  const app = createApp({
    urls,
    store,
    sessions,
    logger,
    limits: { limiter, settings: rateSettings },
    readiness: createReadiness({ store, logger }),
    requestDeadlineMs: config.requestDeadlineMs,
    deployment,
    mpVerify: config.mpVerify,
    // the listed doors: each builds its own routes from the context; app.ts derives the rest from them
    doors: config.doors.map((door) => ({
      name: door.name,
      routes: door.routes(ctx),
      allowed: door.allowed,
      limits: door.limits,
      attemptOf: door.attemptOf,
      logsFailures: door.logsFailures,
      quiet: door.quiet,
      info: door.publicInfo(),
    })),
    wechatSync,
    phone: phoneDeps(ctx, config.mini),
    checkNickname,
    deleteUser,
  });
  const stop = () => {
    limiter.stop();
    notifier.stop();
    clearInterval(sweeper);
  };
  return { config, store, sessions, logger, transport, sealer, accessTokens, limiter, notifier, oaAccessTokens, follow, deleteUser, app, stop };
}

/**
 * Follow-to-login's AttemptPort over the PC login attempt (flows/attempt): a scan moves the attempt
 * waiting → scanned, recording who scanned (followerKey), and wakes this instance's waiting PCs
 * (other instances see it through the notifier's database read); the reply's link is the phone's
 * entry /api/auth/pc/scan?a=<id>, where the official account's silent web authorization must find
 * the person who scanned — anyone else (a forwarded link) is refused (http/routes/pc.ts). Without
 * PUBLIC_BASE_URL (development) the link's origin is the one the push reached: this API.
 */
export function followAttemptPort(deps: AttemptDeps, notifier: AttemptNotifier, urls: Urls): AttemptPort {
  return {
    async markScanned(attemptId, who) {
      const { result, view } = await markAttemptScanned(deps, attemptId, followerKey(who.appid, who.openid));
      if (view) notifier.changed(view);
      return result;
    },
    confirmUrl(attemptId, requestOrigin) {
      return urls.api(requestOrigin, `${PC_PATH}/scan?a=${encodeURIComponent(attemptId)}`);
    },
  };
}

/** How often an instance deletes expired temporary documents (stores without TTL indexes need it). */
export const SWEEP_INTERVAL_MS = 60_000;

function startSweeper(store: Storage, logger: Logger, intervalMs: number): ReturnType<typeof setInterval> {
  const timer = setInterval(() => {
    store.sweepExpired(new Date()).then(
      (removed) => removed && logger.log('debug', 'store.swept', { removed }),
      (error) => logger.log('warn', 'store.sweep_failed', { error }),
    );
  }, intervalMs);
  timer.unref?.();
  return timer;
}

/** The token relay authenticates this API by a shared key (docs/DEPLOY.md, "relay"). */
export function relayHeaders(config: Config): Record<string, string> | undefined {
  return config.wechatTokenRelayKey ? { 'x-relay-key': config.wechatTokenRelayKey } : undefined;
}

/**
 * MongoDB from `ServerOptions.mongodb` (the env mapping), its driver imported on first use (a health
 * check never loads it). Collections keep the names they had before prefixes existed ('').
 */
function mongoStore(uri: string, dbName: string): Storage {
  return lazyStorage('mongodb', async () => (await import('./store/mongo.js')).createMongoStore({ uri, dbName }), { changes: true });
}

/**
 * What a server that could not start answers (createWechatLogin): a configuration error must not
 * crash the module at import (Vercel would answer every request, /api/auth/health included, with its
 * HTML 500); every request gets the JSON 503 envelope naming the problems — names only, never a value.
 */
export function misconfiguredApp(problems: string[]): Hono {
  const app = new Hono();
  app.all('*', (c) => c.json(misconfiguredBody(problems), 503, { 'cache-control': 'no-store' }));
  return app;
}

/**
 * Outside production a missing key is generated once and kept in the data directory (like the
 * simulator's secrets), whichever store is used: `npm run dev` works with no setup, survives
 * restarts, and two dev instances on one MongoDB open each other's sealed values.
 * Production refuses to start without one.
 */
function devSealKey(config: Config, persistent: boolean): string {
  // Each generated key gets its own key id: an instance holding a different dev key then reports
  // seal_key_unknown (clear) instead of failing to authenticate a value under the same id.
  const generate = () => `dev-${randomBytes(4).toString('hex')}:${randomBytes(32).toString('base64')}`;
  if (!persistent) return generate();
  const file = join(config.dataDir, 'dev-seal-key');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    const spec = generate();
    try {
      // Exclusive create: of two instances starting at once, one key wins and both use it.
      writeFileSync(file, spec, { mode: 0o600, flag: 'wx' });
      return spec;
    } catch {
      return readFileSync(file, 'utf8').trim();
    }
  }
}
