import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertProductionReady, loadConfig, type Config, type Env } from './config.js';
import { createSealer, parseSealKeys, type Sealer } from './crypto/seal.js';
import { createApp } from './http/app.js';
import { createLogger, type Logger } from './log.js';
import { createSessionManager } from './sessions/sessions.js';
import { EmbeddedStore } from './store/embedded.js';
import { lazyStore } from './store/lazy.js';
import type { Store } from './store/types.js';
import { createTransport, type WechatTransport } from './wechat/transport.js';
import { jscode2session } from './wechat/mini/jscode2session.js';
import { getUserPhoneNumber } from './wechat/mini/getuserphonenumber.js';
import { msgSecCheck } from './wechat/security/msg_sec_check.js';
import { stableToken } from './wechat/auth/stable_token.js';
import { oauth2AccessToken } from './wechat/sns/oauth2_access_token.js';
import { snsUserInfo } from './wechat/sns/userinfo.js';
import { createAccessTokens, type AccessTokens } from './wechat/access-token.js';

/** The composition root: config from the environment → store, WeChat client, sessions → Hono app. */
export interface Services {
  config: Config;
  store: Store;
  logger: Logger;
  transport: WechatTransport;
  sealer: Sealer;
  accessTokens: AccessTokens;
  app: ReturnType<typeof createApp>;
}

export interface ServiceOverrides {
  store?: Store;
  logger?: Logger;
  fetch?: typeof fetch;
  clock?: () => Date;
}

export function createServices(env: Env, overrides: ServiceOverrides = {}): Services {
  const config = loadConfig(env);
  assertProductionReady(config);
  const logger = overrides.logger ?? createLogger(undefined, config.logLevel);
  const store =
    overrides.store ??
    (config.mongodbUri ? mongoStore(config.mongodbUri, config.mongodbDb) : new EmbeddedStore({ dir: config.dataDir }));
  const sealer = createSealer(parseSealKeys(config.sealKeys ?? devSealKey(config, !overrides.store && !config.mongodbUri)));
  const transport = createTransport({ baseUrls: config.wechatBaseUrls, timeoutMs: config.wechatTimeoutMs, logger, fetch: overrides.fetch });
  const sessions = createSessionManager(store, overrides.clock);
  // Token fetches may go through a fixed-IP relay (WeChat's IP whitelist); other calls go direct.
  const tokenTransport = config.wechatTokenBaseUrl
    ? createTransport({ baseUrls: [config.wechatTokenBaseUrl], timeoutMs: config.wechatTimeoutMs, logger, fetch: overrides.fetch })
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
    try {
      const { suggest } = await accessTokens.withToken((token) => msgSecCheck(transport, token, { content: nickname, openid: identity.openid!, scene: 1 }));
      return suggest !== 'risky';
    } catch (error) {
      // Fail open: an unavailable check must not block every profile edit; it is logged for review.
      logger.log('warn', 'wechat.msg_sec_check.skipped', { userId, error });
      return true;
    }
  };
  /** The shared dependencies of a browser OAuth door (website QR login, official account). */
  const oauthApp = (credentials: { appid: string; secret: string } | null) => ({
    appid: credentials?.appid && credentials.secret ? credentials.appid : null,
    openBaseUrl: config.openBaseUrl,
    publicBaseUrl: config.publicBaseUrl,
    production: config.production,
    store,
    sessions,
    sealer,
    logger,
    clock: overrides.clock,
    exchangeCode: (code: string) => oauth2AccessToken(transport, credentials!, code),
    getUserInfo: (accessToken: string, openid: string) => snsUserInfo(transport, accessToken, openid),
  });
  const app = createApp({
    store,
    sessions,
    logger,
    mini: {
      appid: config.mini.appid,
      store,
      sessions,
      sealer,
      logger,
      clock: overrides.clock,
      exchangeCode: (code) => jscode2session(transport, config.mini, code),
    },
    // Optional doors: without a complete app their endpoints answer <door>_login_not_configured.
    web: oauthApp(config.web),
    oa: oauthApp(config.oa),
    decrypt: { appid: config.mini.appid, store, sealer },
    phone: { appid: config.mini.appid, store, accessTokens, getPhoneNumber: (token, code) => getUserPhoneNumber(transport, token, code) },
    checkNickname,
  });
  return { config, store, logger, transport, sealer, accessTokens, app };
}

/** The MongoDB store, its driver imported on first use (a health check never loads it). */
function mongoStore(uri: string, dbName: string): Store {
  return lazyStore('mongodb', async () => (await import('./store/mongo.js')).createMongoStore({ uri, dbName }));
}

/**
 * Outside production a missing key is generated once and kept beside the embedded data, so
 * `npm run dev` works with no setup and survives restarts. Production refuses to start without one.
 */
function devSealKey(config: Config, persistent: boolean): string {
  if (!persistent) return `dev:${randomBytes(32).toString('base64')}`;
  const file = join(config.dataDir, 'dev-seal-key');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    const spec = `dev:${randomBytes(32).toString('base64')}`;
    writeFileSync(file, spec, { mode: 0o600 });
    return spec;
  }
}
