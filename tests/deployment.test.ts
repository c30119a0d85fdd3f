import { describe, expect, inject, it } from 'vitest';
import { ConfigError, checkConfig } from '../packages/server/src/config.js';
import { createServices } from '../packages/server/src/main.js';
import { loadConfig, optionsFromEnv } from '../packages/server/src/env.js';
import { silentLogger } from '../packages/server/src/log.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';

/** Issue 12: WeChat access points and preview deployments. */
const keys = {
  WECHAT_MINI_APPID: 'wx0123456789abcdef',
  WECHAT_MINI_SECRET: '0123456789abcdef0123456789abcdef',
};
const full = {
  ...keys,
  MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200',
  SESSION_KEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
};

describe('WeChat access points (docs/WECHAT.md, "Access points and network")', () => {
  it('choosing the Hong Kong access point keeps a failover to the general ones', () => {
    expect(loadConfig({ WECHAT_API_BASE: 'https://hk.api.weixin.qq.com' }).wechatBaseUrls).toEqual([
      'https://hk.api.weixin.qq.com',
      'https://api.weixin.qq.com',
      'https://api2.weixin.qq.com',
    ]);
    expect(loadConfig({ WECHAT_API_BASE: 'https://api2.weixin.qq.com' }).wechatBaseUrls).toEqual(['https://api2.weixin.qq.com', 'https://api.weixin.qq.com']);
    expect(loadConfig({}).wechatBaseUrls).toEqual(['https://api.weixin.qq.com', 'https://api2.weixin.qq.com']);
  });

  it('an explicit empty failover is honoured but said by the doctor; the simulator gets none', () => {
    const config = loadConfig({ ...full, WECHAT_API_BASE: 'https://hk.api.weixin.qq.com', WECHAT_API_FAILOVER: '' });
    expect(config.wechatBaseUrls).toEqual(['https://hk.api.weixin.qq.com']);
    expect(checkConfig(config).notes.join('\n')).toContain('WECHAT_API_FAILOVER is empty');
    expect(loadConfig({ WECHAT_API_BASE: 'http://127.0.0.1:3100' }).wechatBaseUrls).toEqual(['http://127.0.0.1:3100']);
  });
});

describe('the access-token relay (WECHAT_TOKEN_BASE) authenticates the API', () => {
  const relayKey = 'r'.repeat(40);

  it('a relay without a key of at least 32 characters is a configuration problem', () => {
    const problems = checkConfig(loadConfig({ ...full, WECHAT_TOKEN_BASE: 'https://relay.example.cn' })).problems.join('\n');
    expect(problems).toContain('WECHAT_TOKEN_RELAY_KEY');
    expect(checkConfig(loadConfig({ ...full, WECHAT_TOKEN_BASE: 'https://relay.example.cn', WECHAT_TOKEN_RELAY_KEY: relayKey })).problems).toEqual([]);
  });

  it('token fetches go to the relay with x-relay-key; other WeChat calls go direct without it', async () => {
    const seen: { url: string; key: string | null }[] = [];
    const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(input), key: new Headers(init?.headers).get('x-relay-key') });
      return new Response(JSON.stringify({ access_token: 'T'.repeat(40), expires_in: 7200 }));
    }) as typeof fetch;
    const services = createServices(
      optionsFromEnv({ ...full, WECHAT_TOKEN_BASE: 'https://relay.example.cn', WECHAT_TOKEN_RELAY_KEY: relayKey }),
      { store: new EmbeddedStore({ dir: null }), logger: silentLogger, fetch: fakeFetch },
    );
    await services.accessTokens.withToken(async (token) => token);
    await services.transport.get('/sns/jscode2session', { js_code: 'x' }).catch(() => {});
    expect(seen[0]).toEqual({ url: 'https://relay.example.cn/cgi-bin/stable_token', key: relayKey });
    expect(seen[1]!.url).toMatch(/^https:\/\/api\.weixin\.qq\.com\/sns\/jscode2session/);
    expect(seen[1]!.key).toBeNull();
  });
});

describe('PUBLIC_BASE_URL behind a CDN (the Host header rule)', () => {
  const web = { ...full, WECHAT_WEB_APPID: 'wx00000000000000aa', WECHAT_WEB_SECRET: 'a'.repeat(32) };
  it('is required in production and previews once a browser login is on; a note in development', () => {
    expect(() => createServices(optionsFromEnv({ ...web, VERCEL_ENV: 'production' }), { logger: silentLogger })).toThrow(/PUBLIC_BASE_URL is not set/);
    expect(() => createServices(optionsFromEnv({ ...web, VERCEL_ENV: 'preview' }), { logger: silentLogger })).toThrow(/PUBLIC_BASE_URL is not set/);
    expect(() => createServices(optionsFromEnv({ ...web, VERCEL_ENV: 'production', PUBLIC_BASE_URL: 'https://api.example.cn' }), { logger: silentLogger })).not.toThrow();
    const dev = checkConfig(loadConfig(web));
    expect(dev.problems).toEqual([]);
    expect(dev.notes.join('\n')).toContain('PUBLIC_BASE_URL is not set');
  });
});

describe('WECHAT_MP_VERIFY (the official account domain file)', () => {
  it('takes file names or contents; anything else is a configuration problem', () => {
    expect(loadConfig({ WECHAT_MP_VERIFY: 'MP_verify_Ab12.txt, Cd34' }).mpVerify).toEqual(['Ab12', 'Cd34']);
    const bad = checkConfig(loadConfig({ ...full, WECHAT_MP_VERIFY: 'MP_verify_../etc.txt' }));
    expect(bad.problems.join('\n')).toContain('WECHAT_MP_VERIFY');
  });
});

describe('preview deployments (VERCEL_ENV=preview)', () => {
  const preview = { VERCEL: '1', VERCEL_ENV: 'preview' };

  it('without a database and seal keys a preview is refused like production, saying how to opt in', () => {
    let error: unknown;
    try {
      createServices(optionsFromEnv({ ...preview, ...keys }), { logger: silentLogger });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('preview');
    expect(message).toContain('MONGODB_URI');
    expect(message).toContain('ALLOW_EPHEMERAL_PREVIEW=1');
  });

  it('a preview is held to the production checks for WeChat too (no simulator, real keys)', () => {
    expect(() => createServices(optionsFromEnv({ ...preview, ...full, WECHAT_API_BASE: 'http://127.0.0.1:3100', ALLOW_EPHEMERAL_PREVIEW: '1' }), { logger: silentLogger })).toThrow(
      /127\.0\.0\.1:3100/,
    );
  });

  it('an opted-in ephemeral preview starts and says what it runs on, in /api/auth/health and in its log', async () => {
    const lines: string[] = [];
    const services = createServices(
      optionsFromEnv({ ...preview, ...keys, ALLOW_EPHEMERAL_PREVIEW: '1', DATA_DIR: `/tmp/h6-preview-${process.pid}` }),
      { logger: { log: (level, event, fields) => lines.push(JSON.stringify({ level, event, ...fields })) } },
    );
    const health = await (await services.app.request('/api/auth/health')).json();
    expect(health).toMatchObject({ ok: true, store: 'embedded', environment: 'preview', ephemeral: true });
    expect(lines.join('\n')).toContain('deployment.ephemeral_preview');
    await services.store.close();
  });

  // /api/auth/health is readiness: it answers 200 only while the database does, so these two use the test server.
  const reachable = { ...full, MONGODB_URI: inject('mongodbUri') };
  it.skipIf(!inject('mongodbUri'))('a preview with its own database is a real staging deployment: not ephemeral', async () => {
    const services = createServices(optionsFromEnv({ ...preview, ...reachable }), { logger: silentLogger });
    const health = await (await services.app.request('/api/auth/health')).json();
    expect(health).toMatchObject({ environment: 'preview', ephemeral: false, store: 'mongodb' });
  });

  it.skipIf(!inject('mongodbUri'))('production says so too, and ALLOW_EPHEMERAL_PREVIEW means nothing there', async () => {
    expect(() => createServices(optionsFromEnv({ VERCEL_ENV: 'production', ...keys, ALLOW_EPHEMERAL_PREVIEW: '1' }), { logger: silentLogger })).toThrow(ConfigError);
    const services = createServices(optionsFromEnv({ VERCEL_ENV: 'production', ...reachable }), { logger: silentLogger });
    expect(await (await services.app.request('/api/auth/health')).json()).toMatchObject({ environment: 'production', ephemeral: false });
  });
});
