import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertProductionReady, describeDeployment, resolveConfig, type Config, type ServerOptions } from './config.js';
import { createSealer, parseSealKeys, type Sealer } from './crypto/seal.js';
import { Hono } from 'hono';
import { ERROR_CODES, type ErrorBody } from '../../../shared/errors.js';
import { ConfigError } from './config.js';
import { SealKeyError } from './crypto/seal.js';
import { createApp } from './http/app.js';
import { appidQuota, RateLimiter } from './http/rate-limit.js';
import { clientAddress } from './http/client-address.js';
import { createReadiness } from './http/readiness.js';
import { createLogger, type Logger } from './log.js';
import { createSessionManager } from './sessions/sessions.js';
import { EmbeddedStore } from './store/embedded.js';
import { lazyStore } from './store/lazy.js';
import type { Store } from './store/types.js';
import { createTransport, type WechatTransport } from './wechat/transport.js';
import { jscode2session } from './wechat/mini/jscode2session.js';
import { createInFlightCodes } from './flows/mini/login.js';
import { getUserPhoneNumber } from './wechat/mini/getuserphonenumber.js';
import { msgSecCheck } from './wechat/security/msg_sec_check.js';
import { stableToken } from './wechat/auth/stable_token.js';
import { oauth2AccessToken } from './wechat/sns/oauth2_access_token.js';
import { snsUserInfo } from './wechat/sns/userinfo.js';
import { createDbNotifier, type AttemptNotifier } from './flows/attempt/notify.js';
import { ATTEMPT_VALUE_FIELDS, createChangeStreamNotifier } from './flows/attempt/change-stream.js';
import { mongoRecordChanges } from './store/mongo-changes.js';
import { createAccessTokens, type AccessTokens } from './wechat/access-token.js';
import { createTemporaryQrCode } from './wechat/oa/qrcode_create.js';
import { showQrCodeUrl } from './wechat/oa/showqrcode.js';
import { getFollowerInfo } from './wechat/oa/user_info.js';
import { followerKey, type AttemptPort } from './flows/follow/attempt-port.js';
import { followQrs, identifyFollower, type FollowQrs } from './flows/follow/login.js';
import { markAttemptScanned, type AttemptDeps } from './flows/attempt/attempt.js';
import { PC_BASE_PATH } from './http/routes/pc.js';
import type { OaServerDeps } from './http/oa-server.js';
import { keepGrant, type WechatSyncDeps } from './flows/wechat-sync/sync.js';
import { oauth2RefreshToken } from './wechat/sns/oauth2_refresh_token.js';
import { snsAuth } from './wechat/sns/auth.js';

/**
 * The composition root: typed options (config.ts ServerOptions; secrets included) → store, WeChat
 * client, sessions → Hono app. Nothing here reads the environment: hosts map theirs with
 * env.ts `optionsFromEnv`, and two instances with different options share nothing.
 */
export interface Services {
  config: Config;
  store: Store;
  logger: Logger;
  transport: WechatTransport;
  sealer: Sealer;
  accessTokens: AccessTokens;
  limiter: RateLimiter;
  /** the official account's access_token (null without WECHAT_OA_APPID/SECRET) */
  oaAccessTokens: AccessTokens | null;
  /** follow-to-login: the adapter over the PC login attempt (followAttemptPort) and the OA calls */
  follow: {
    port: AttemptPort;
    createQrCode(scene: string, expireSeconds: number): ReturnType<typeof createTemporaryQrCode>;
    showQrCodeUrl(ticket: string): string;
    getFollowerInfo(openid: string): ReturnType<typeof getFollowerInfo>;
    /** one follow QR per browser, made when its PC page shows the card (flows/follow followQrs) */
    qrs: FollowQrs;
  } | null;
  /** tells waiting PC pages that their login attempt changed (flows/attempt/notify.ts) */
  notifier: AttemptNotifier;
  app: ReturnType<typeof createApp>;
  /** stops the background timers (rate-limit sync, expiry sweep); the store stays open */
  stop(): void;
}

export interface ServiceOverrides {
  store?: Store;
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
  const store =
    overrides.store ??
    (config.mongodbUri ? mongoStore(config.mongodbUri, config.mongodbDb) : new EmbeddedStore({ dir: config.dataDir }));
  const sealer = createSealer(parseSealKeys(config.sealKeys ?? devSealKey(config, !overrides.store)));
  const transport = createTransport({ baseUrls: config.wechatBaseUrls, timeoutMs: config.wechatTimeoutMs, logger, fetch: overrides.fetch });
  const sessions = createSessionManager(store, overrides.clock);
  const limiter = new RateLimiter({ store, logger });
  // The per-AppID limit: charged just before each WeChat call made for a request (after validation)
  const spend = appidQuota(limiter, config.rateLimit.perAppid);
  // Token fetches may go through a fixed-IP relay (WeChat's IP whitelist); other calls go direct.
  const tokenTransport = config.wechatTokenBaseUrl
    ? createTransport({ baseUrls: [config.wechatTokenBaseUrl], timeoutMs: config.wechatTimeoutMs, logger, fetch: overrides.fetch, headers: relayHeaders(config) })
    : transport;
  const accessTokens = createAccessTokens({
    appid: config.mini.appid,
    store,
    sealer,
    logger,
    fetchToken: (force) => stableToken(tokenTransport, config.mini, force),
  });
  const checkNickname = async (nickname: string, userId: string) => {
    const identity = (await store.getUserIdentities(userId)).find((i) => i.kind === 'oid' && i.appid === config.mini.appid);
    if (!identity?.openid) return true; // no mini-program identity to check against
    // over the AppID's budget: the edit is refused (429), never saved unchecked
    return spend(config.mini.appid, async () => {
      try {
        const { suggest } = await accessTokens.withToken((token) => msgSecCheck(transport, token, { content: nickname, openid: identity.openid!, scene: 1 }));
        return suggest !== 'risky';
      } catch (error) {
        // Fail open: an unavailable check must not block every profile edit; it is logged for review.
        logger.log('warn', 'wechat.msg_sec_check.skipped', { userId, error });
        return true;
      }
    });
  };
  /** The shared dependencies of a browser OAuth door (website QR login, official account). */
  const oauthApp = (credentials: { appid: string; secret: string } | null) => ({
    appid: credentials?.appid && credentials.secret ? credentials.appid : null,
    openBaseUrl: config.openBaseUrl,
    publicBaseUrl: config.publicBaseUrl,
    production: config.production,
    store,
    sessions,
    logger,
    clock: overrides.clock,
    exchangeCode: (code: string) => spend(credentials?.appid, () => oauth2AccessToken(transport, credentials!, code)),
    getUserInfo: (accessToken: string, openid: string) => spend(credentials?.appid, () => snsUserInfo(transport, accessToken, openid)),
  });
  // The official account: its own access_token (shared by instances) for qrcode/create and user/info.
  const oaCredentials = config.oa?.appid && config.oa.secret ? config.oa : null;
  const oaAccessTokens = oaCredentials
    ? createAccessTokens({ appid: oaCredentials.appid, store, sealer, logger, fetchToken: (force) => stableToken(tokenTransport, oaCredentials, force) })
    : null;
  // PC login live status: MongoDB → one change stream per instance (polling when the server refuses
  // change streams: FerretDB, a standalone mongod); the embedded store → polling + in-process wake-ups
  const notifier =
    store.kind === 'mongodb' && config.mongodbUri
      ? createChangeStreamNotifier({
          store,
          logger,
          source: mongoRecordChanges({ uri: config.mongodbUri, dbName: config.mongodbDb, prefix: 'attempt:', valueFields: ATTEMPT_VALUE_FIELDS }),
          intervalMs: overrides.notifyIntervalMs,
          clock: overrides.clock,
        })
      : createDbNotifier(store, { intervalMs: overrides.notifyIntervalMs, clock: overrides.clock });
  const attemptDeps: AttemptDeps = { store, sessions, logger, clock: overrides.clock, ttlMs: config.pcAttemptTtlMs };
  const followPort = followAttemptPort(attemptDeps, notifier, config.publicBaseUrl);
  const createQrCode = (scene: string, seconds: number) => spend(oaCredentials?.appid, () => oaAccessTokens!.withToken((token) => createTemporaryQrCode(transport, token, scene, seconds)));
  const qrImageUrl = (ticket: string) => showQrCodeUrl(ticket, config.mpBaseUrl);
  const follow: Services['follow'] = oaAccessTokens
    ? {
        port: followPort,
        createQrCode,
        showQrCodeUrl: qrImageUrl,
        getFollowerInfo: (openid) => oaAccessTokens.withToken((token) => getFollowerInfo(transport, token, openid)),
        qrs: followQrs({ store, logger, createQrCode, showQrCodeUrl: qrImageUrl, clock: overrides.clock }),
      }
    : null;
  const oaServerConfig = oaServerSettings(config, logger);
  const oaServer: OaServerDeps = {
    server: oaServerConfig,
    store,
    logger,
    port: followPort,
    clock: overrides.clock,
    limits: overrides.oaPushLimits,
    // after the reply: user/info → unionid → the same account as the mini-program / website, so the
    // confirmation link's web authorization is silent (snsapi_base finds the openid)
    identify: follow && oaServerConfig
      ? (openid) => identifyFollower({ appid: oaServerConfig.appid, store, getFollowerInfo: follow.getFollowerInfo, clock: overrides.clock }, openid)
      : undefined,
  };
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
  const sweeper = startSweeper(store, logger, overrides.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
  const deployment = describeDeployment(config);
  if (deployment.ephemeral) {
    logger.log('warn', 'deployment.ephemeral_preview', { message: 'preview on a throwaway /tmp embedded store with a random seal key: users and sessions vanish with the instance' });
  }
  const app = createApp({
    store,
    sessions,
    logger,
    limits: { limiter, settings: { ...config.rateLimit, address: config.clientAddress } },
    readiness: createReadiness({ store, logger }),
    requestDeadlineMs: config.requestDeadlineMs,
    deployment,
    mpVerify: config.mpVerify,
    oaServer,
    mini: {
      appid: config.mini.appid,
      store,
      sessions,
      sealer,
      logger,
      clock: overrides.clock,
      inFlight: createInFlightCodes(), // this instance's own: nothing module-level (tests/isolation.test.ts)
      exchangeCode: (code) => spend(config.mini.appid, () => jscode2session(transport, config.mini, code)),
    },
    // Optional doors: without a complete app their endpoints answer <door>_login_not_configured.
    web: oauthApp(config.web),
    oa: {
      ...oauthApp(config.oa),
      // 同步微信头像昵称: an snsapi_userinfo grant is kept sealed right after the code exchange (flows/wechat-sync)
      exchangeCode: async (code: string) => {
        const wx = await spend(config.oa?.appid, () => oauth2AccessToken(transport, config.oa!, code));
        if (oaCredentials) await keepGrant({ appid: oaCredentials.appid, store, sealer, logger, clock: overrides.clock }, wx);
        return wx;
      },
    },
    wechatSync,
    // PC login with our own QR code, confirmed on the phone through the official account's web authorization
    pc: {
      attempt: attemptDeps,
      notifier,
      // 关注公众号登录 (form: 'follow'): the attempt's parametric QR, when the server URL and the OA's access_token exist
      followQrs: follow && oaServerConfig ? follow.qrs : null,
      oauth: oauthApp(config.oa),
      publicBaseUrl: config.publicBaseUrl,
      production: config.production,
      appName: config.appName,
      streamMs: config.pcEventsStreamMs,
      longPollMs: Math.max(1000, Math.min(20_000, config.requestDeadlineMs - 1000)),
      // the PC's and the phone's network addresses (shown on the confirmation page), derived as the rate limits do
      clientAddress: (c) => clientAddress(c, config.clientAddress),
    },
    decrypt: { appid: config.mini.appid, store, sealer, sessions },
    phone: { appid: config.mini.appid, store, accessTokens, getPhoneNumber: (token, code) => spend(config.mini.appid, () => getUserPhoneNumber(transport, token, code)) },
    checkNickname,
  });
  const stop = () => {
    limiter.stop();
    notifier.stop();
    clearInterval(sweeper);
  };
  return { config, store, logger, transport, sealer, accessTokens, limiter, notifier, oaAccessTokens, follow, app, stop };
}

/**
 * Follow-to-login's AttemptPort over the PC login attempt (flows/attempt): a scan moves the attempt
 * waiting → scanned, recording who scanned (followerKey), and wakes this instance's waiting PCs
 * (other instances see it through the notifier's database read); the reply's link is the phone's
 * entry /api/auth/pc/scan?a=<id>, where the official account's silent web authorization must find
 * the person who scanned — anyone else (a forwarded link) is refused (http/routes/pc.ts). Without
 * PUBLIC_BASE_URL (development) the link's origin is the one the push reached: this API.
 */
export function followAttemptPort(deps: AttemptDeps, notifier: AttemptNotifier, publicOrigin: string | null): AttemptPort {
  return {
    async markScanned(attemptId, who) {
      const { result, view } = await markAttemptScanned(deps, attemptId, followerKey(who.appid, who.openid));
      if (view) notifier.changed(view);
      return result;
    },
    confirmUrl(attemptId, requestOrigin) {
      return `${publicOrigin ?? requestOrigin}${PC_BASE_PATH}/scan?a=${encodeURIComponent(attemptId)}`;
    },
  };
}

/** The server URL's settings, or null (not configured, or — in development — configured wrongly: logged). */
function oaServerSettings(config: Config, logger: Logger): OaServerDeps['server'] {
  const s = config.oaServer;
  if (!s || !config.oa) return null;
  const valid =
    /^[A-Za-z0-9]{3,32}$/.test(s.token) &&
    ['plain', 'compatible', 'safe'].includes(s.mode) &&
    s.encodingAesKeys.every((k) => /^[A-Za-z0-9]{43}$/.test(k)) &&
    (s.mode === 'plain' || s.encodingAesKeys.length > 0);
  if (!valid) {
    logger.log('error', 'oa.push.misconfigured', { message: 'WECHAT_OA_TOKEN / ENCODING_AES_KEY / MESSAGE_MODE invalid: /api/auth/oa/push is off (npm run doctor)' });
    return null;
  }
  return { appid: config.oa.appid, token: s.token, encodingAesKeys: s.encodingAesKeys, mode: s.mode as 'plain' | 'compatible' | 'safe' };
}

/** How often an instance deletes expired temporary documents (stores without TTL indexes need it). */
export const SWEEP_INTERVAL_MS = 60_000;

function startSweeper(store: Store, logger: Logger, intervalMs: number): ReturnType<typeof setInterval> {
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

/** The MongoDB store, its driver imported on first use (a health check never loads it). */
function mongoStore(uri: string, dbName: string): Store {
  return lazyStore('mongodb', async () => (await import('./store/mongo.js')).createMongoStore({ uri, dbName }));
}

/**
 * The Vercel function's app. A configuration error must not crash the module at import (Vercel
 * would answer every request, /api/auth/health included, with its HTML 500): every request gets the JSON
 * 503 envelope naming the problems instead — variable names only, never a value.
 */
export function createFunctionApp(options: ServerOptions): { fetch: (request: Request, ...rest: any[]) => Response | Promise<Response> } {
  try {
    return createServices(options).app;
  } catch (error) {
    const problems =
      error instanceof ConfigError ? error.problems : error instanceof SealKeyError ? [`SESSION_KEY_ENCRYPTION_KEYS: ${error.message}`] : ['the server failed to start (see the function log)'];
    console.error(JSON.stringify({ level: 'error', event: 'config.invalid', problems }));
    return misconfiguredApp(problems);
  }
}

export function misconfiguredApp(problems: string[]): Hono {
  const app = new Hono();
  app.all('*', (c) => {
    const body: ErrorBody = { error: { code: 'server_misconfigured', message: `${ERROR_CODES.server_misconfigured.message}：${problems.join('；')}` } };
    return c.json(body, 503, { 'cache-control': 'no-store' });
  });
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
