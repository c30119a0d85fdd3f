import { describe, expect, it } from 'vitest';
import { checkConfig } from '../packages/server/src/config.js';
import { loadConfig } from '../packages/server/src/env.js';
import { testServices } from './support/services.js';

/** The server URL's settings (docs/DEPLOY.md §13): the doctor names every wrong one; the endpoint stays off meanwhile. */
const OA = { WECHAT_OA_APPID: 'wx0123456789abcdef', WECHAT_OA_SECRET: '0123456789abcdef0123456789abcdef' };
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

describe('server URL configuration (WECHAT_OA_TOKEN, _ENCODING_AES_KEY, _MESSAGE_MODE)', () => {
  it('defaults: safe mode with a key, plain without; off without a Token', () => {
    expect(loadConfig({ ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_ENCODING_AES_KEY: KEY }).oaServer).toEqual({ token: 'tok123', encodingAesKeys: [KEY], mode: 'safe' });
    expect(loadConfig({ ...OA, WECHAT_OA_TOKEN: 'tok123' }).oaServer).toEqual({ token: 'tok123', encodingAesKeys: [], mode: 'plain' });
    expect(loadConfig({ ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_ENCODING_AES_KEY: KEY, WECHAT_OA_ENCODING_AES_KEY_PREVIOUS: 'B'.repeat(43) }).oaServer?.encodingAesKeys).toEqual([KEY, 'B'.repeat(43)]);
    expect(loadConfig(OA).oaServer).toBeNull();
    expect(checkConfig(loadConfig(OA)).notes.join('\n')).toContain('WECHAT_OA_TOKEN is not set');
  });

  it('names a wrong Token, key, mode, a mode without key and a Token without an official account', () => {
    const problems = (env: Record<string, string>) => checkConfig(loadConfig(env)).problems.join('\n');
    expect(problems({ ...OA, WECHAT_OA_TOKEN: 'a!' })).toContain('WECHAT_OA_TOKEN must be');
    expect(problems({ ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_ENCODING_AES_KEY: 'short' })).toContain('43-letter/digit EncodingAESKey');
    expect(problems({ ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_MESSAGE_MODE: 'secure' })).toContain('WECHAT_OA_MESSAGE_MODE must be');
    expect(problems({ ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_MESSAGE_MODE: 'safe' })).toContain('needs WECHAT_OA_ENCODING_AES_KEY');
    expect(problems({ WECHAT_OA_TOKEN: 'tok123' })).toContain('WECHAT_OA_APPID is not');
    expect(problems({ ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_ENCODING_AES_KEY: KEY })).not.toMatch(/WECHAT_OA_(TOKEN|ENCODING|MESSAGE)/);
    // with a key, plaintext pushes are refused: plain mode and a key contradict each other
    expect(problems({ ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_ENCODING_AES_KEY: KEY, WECHAT_OA_MESSAGE_MODE: 'plain' })).toContain('WECHAT_OA_MESSAGE_MODE=plain with WECHAT_OA_ENCODING_AES_KEY');
  });

  it('in development a wrong setting turns the endpoint off (503 oa_push_not_configured), never a crash', async () => {
    const services = testServices({}, { ...OA, WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_MESSAGE_MODE: 'safe' });
    try {
      const res = await services.app.request('/api/auth/oa/push?signature=x&timestamp=1&nonce=1&echostr=1');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'oa_push_not_configured' } });
      const wrongMethod = await services.app.request('/api/auth/oa/push', { method: 'PUT' });
      expect(wrongMethod.status).toBe(405);
    } finally {
      services.stop();
    }
  });
});
