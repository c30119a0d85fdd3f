import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertProductionReady, loadConfig, type Config, type Env } from './config.js';
import { createSealer, parseSealKeys, type Sealer } from './crypto/seal.js';
import { createApp } from './http/app.js';
import { createLogger, type Logger } from './log.js';
import { createSessionManager } from './sessions/sessions.js';
import { EmbeddedStore } from './store/embedded.js';
import { createMongoStore } from './store/mongo.js';
import type { Store } from './store/types.js';
import { createTransport, type WechatTransport } from './wechat/transport.js';
import { jscode2session } from './wechat/mini/jscode2session.js';

/** The composition root: config from the environment → store, WeChat client, sessions → Hono app. */
export interface Services {
  config: Config;
  store: Store;
  logger: Logger;
  transport: WechatTransport;
  sealer: Sealer;
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
    (config.mongodbUri ? createMongoStore({ uri: config.mongodbUri, dbName: config.mongodbDb }) : new EmbeddedStore({ dir: config.dataDir }));
  const sealer = createSealer(parseSealKeys(config.sealKeys ?? devSealKey(config, !overrides.store && !config.mongodbUri)));
  const transport = createTransport({ baseUrls: config.wechatBaseUrls, timeoutMs: config.wechatTimeoutMs, logger, fetch: overrides.fetch });
  const sessions = createSessionManager(store, overrides.clock);
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
  });
  return { config, store, logger, transport, sealer, app };
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
