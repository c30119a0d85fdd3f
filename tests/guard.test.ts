import { describe, expect, it } from 'vitest';
import { ConfigError, checkConfig } from '../packages/server/src/config.js';
import { createServices } from '../packages/server/src/main.js';
import { loadConfig, optionsFromEnv } from '../packages/server/src/env.js';

const good = {
  WECHAT_MINI_APPID: 'wx0123456789abcdef',
  WECHAT_MINI_SECRET: '0123456789abcdef0123456789abcdef',
  MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200',
  SESSION_KEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
};

describe('production guard', () => {
  it('refuses to start with the simulator, the embedded store and no secrets — listing every problem in one message', () => {
    let error: unknown;
    try {
      createServices(optionsFromEnv({ VERCEL_ENV: 'production', WECHAT_API_BASE: 'http://127.0.0.1:3100' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const word of ['WECHAT_MINI_APPID', 'WECHAT_MINI_SECRET', 'http://127.0.0.1:3100', 'MONGODB_URI', 'SESSION_KEY_ENCRYPTION_KEYS']) expect(message).toContain(word);
  });

  it('NODE_ENV=production is production too', () => {
    expect(() => createServices(optionsFromEnv({ NODE_ENV: 'production' }))).toThrow(ConfigError);
  });

  it('starts with WeChat hosts, MongoDB and keys — without connecting at start-up', () => {
    const services = createServices(optionsFromEnv({ ...good, NODE_ENV: 'production' }));
    expect(services.config.wechatBaseUrls).toEqual(['https://api.weixin.qq.com', 'https://api2.weixin.qq.com']);
    expect(services.store.kind).toBe('mongodb');
  });

  it('accepts the Hong Kong access point and rejects look-alike hosts', () => {
    expect(checkConfig(loadConfig({ ...good, WECHAT_API_BASE: 'https://hk.api.weixin.qq.com', WECHAT_API_FAILOVER: '' })).problems).toEqual([]);
    expect(checkConfig(loadConfig({ ...good, WECHAT_API_BASE: 'https://api.weixin.qq.com.evil.example' })).problems).toHaveLength(1);
    expect(checkConfig(loadConfig({ ...good, WECHAT_API_BASE: 'http://api.weixin.qq.com' })).problems).toHaveLength(1);
  });

  it('the website QR login is optional, but complete and real once configured', () => {
    const off = checkConfig(loadConfig(good));
    expect(off.problems).toEqual([]);
    expect(off.notes.join('\n')).toContain('WECHAT_WEB_APPID');
    expect(() => createServices(optionsFromEnv({ ...good, NODE_ENV: 'production' }))).not.toThrow();

    const web = { ...good, WECHAT_WEB_APPID: 'wx00000000000000aa', WECHAT_WEB_SECRET: 'a'.repeat(32), PUBLIC_BASE_URL: 'https://api.example.com' };
    expect(checkConfig(loadConfig(web)).problems).toEqual([]);
    const noSecret = checkConfig(loadConfig({ ...web, WECHAT_WEB_SECRET: '' })).problems;
    expect(noSecret).toHaveLength(1);
    expect(noSecret[0]).toContain('WECHAT_WEB_SECRET');
    expect(checkConfig(loadConfig({ ...web, WECHAT_OPEN_BASE: 'http://127.0.0.1:3100' })).problems.join('\n')).toContain('WECHAT_OPEN_BASE');
    expect(checkConfig(loadConfig({ ...web, PUBLIC_BASE_URL: 'http://api.example.com' })).problems.join('\n')).toContain('PUBLIC_BASE_URL');
    expect(() => createServices(optionsFromEnv({ ...web, WECHAT_WEB_SECRET: '', NODE_ENV: 'production' }))).toThrow(ConfigError);
  });

  it('never puts the secret into its message', () => {
    // Asserted outside any catch: without the guard nothing throws and this test fails.
    let error: unknown;
    try {
      createServices(optionsFromEnv({ ...good, NODE_ENV: 'production', WECHAT_API_BASE: 'http://localhost' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('http://localhost');
    expect(message).not.toContain(good.WECHAT_MINI_SECRET);
    expect(message).not.toContain(good.SESSION_KEY_ENCRYPTION_KEYS.slice(3));
  });
});
