import { randomBytes } from 'node:crypto';
import { createServices, type ServiceOverrides } from '../../packages/server/src/main.js';
import { optionsFromEnv } from '../../packages/server/src/env.js';
import { EmbeddedStore } from '../../packages/server/src/store/embedded.js';
import { silentLogger } from '../../packages/server/src/log.js';

/** The app without a network listener, for Hono-style `app.request()` tests. */
export function testServices(overrides: ServiceOverrides = {}, env: Record<string, string> = {}) {
  return createServices(
    optionsFromEnv({
      NODE_ENV: 'test',
      WECHAT_MINI_APPID: 'wxd0c0ffee00000001',
      WECHAT_MINI_SECRET: randomBytes(16).toString('hex'),
      WECHAT_API_BASE: 'http://127.0.0.1:1',
      WECHAT_API_FAILOVER: '',
      RATE_LIMIT_PER_ADDRESS: '1000000',
      RATE_LIMIT_PER_APPID: '1000000',
      ...env,
    }),
    { store: new EmbeddedStore({ dir: null }), logger: silentLogger, ...overrides },
  );
}
