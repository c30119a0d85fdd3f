// The error seam (issue 11 "the house"): the WeChat layer throws WeChat errors, the store store
// errors, flows domain errors (AppError) — and the HTTP edge (http/errors.ts `toAppError`) is the
// one place that turns the others into stable codes.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../shared/errors.js';
import { UnknownSealKeyError } from '../packages/server/src/crypto/seal.js';
import { AppError } from '../packages/server/src/errors.js';
import { miniLogin } from '../packages/server/src/flows/mini/login.js';
import { toAppError } from '../packages/server/src/http/errors.js';
import { silentLogger } from '../packages/server/src/log.js';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../packages/server/src/env.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { StoreUnavailableError } from '../packages/server/src/store/types.js';
import { stableToken } from '../packages/server/src/wechat/auth/stable_token.js';
import { WechatApiError, WechatConfigError, WechatUnavailableError, type WechatTransport } from '../packages/server/src/wechat/transport.js';

describe('toAppError: the edge translation', () => {
  const cases: [string, unknown, string][] = [
    ['store outage', new StoreUnavailableError('down'), 'store_unavailable'],
    ['value sealed with an unknown key', new UnknownSealKeyError('old'), 'seal_key_unknown'],
    ['token endpoint refused our IP', new WechatConfigError('/cgi-bin/stable_token', 'ip_not_whitelisted', 40164), 'wechat_ip_not_whitelisted'],
    ['token endpoint refused AppID/AppSecret', new WechatConfigError('/cgi-bin/stable_token', 'credentials', 40125), 'wechat_config_invalid'],
    ['no access_token obtainable now', new WechatUnavailableError('/cgi-bin/stable_token', 'token_refresh', 'x'), 'wechat_token_unavailable'],
    ['WeChat timed out', new WechatUnavailableError('/sns/jscode2session', 'timeout', 'x'), 'wechat_unavailable'],
    // wechat-api-facts.md §1, §5, §6 (docs/WECHAT.md "Server API errors the API maps")
    ['40029 invalid code', new WechatApiError('/sns/jscode2session', 40029, 'invalid code'), 'code_invalid'],
    ['40163 code been used (no flow-specific meaning at the edge)', new WechatApiError('/sns/oauth2/access_token', 40163, 'code been used'), 'code_invalid'],
    ['42003 oauth code timed out', new WechatApiError('/sns/oauth2/access_token', 42003, 'code timeout'), 'code_invalid'],
    ['40226 high-risk user', new WechatApiError('/sns/jscode2session', 40226, 'invalid login'), 'wechat_user_blocked'],
    ['45011 minute quota', new WechatApiError('/sns/jscode2session', 45011, 'api minute-quota reach limit'), 'wechat_rate_limited'],
    ['40125 invalid appsecret on a login call', new WechatApiError('/sns/jscode2session', 40125, 'invalid appsecret'), 'wechat_config_invalid'],
    ['-1 system busy', new WechatApiError('/sns/jscode2session', -1, 'system error'), 'wechat_unavailable'],
  ];
  for (const [name, error, code] of cases) {
    it(`${name} → ${code} (${ERROR_CODES[code as keyof typeof ERROR_CODES].status})`, () => {
      const known = toAppError(error);
      expect(known).toBeInstanceOf(AppError);
      expect(known!.code).toBe(code);
      expect(known!.cause).toBe(error); // the log line at the edge keeps what really happened
    });
  }

  it('passes a domain error through unchanged and leaves a bug unknown (→ internal_error)', () => {
    const domain = new AppError('code_already_used');
    expect(toAppError(domain)).toBe(domain);
    expect(toAppError(new TypeError('bug'))).toBeNull();
  });
});

describe('the WeChat layer throws WeChat errors only', () => {
  it('stable_token without access_token is WechatUnavailableError (bad_body → 503 wechat_unavailable), no longer a TypeError (500)', async () => {
    const transport: WechatTransport = { get: async () => ({}) as never, postJson: async () => ({ errcode: 0 }) as never };
    const error = await stableToken(transport, { appid: 'wx0000000000000001', secret: 's'.repeat(32) }, false).catch((e) => e);
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error).toMatchObject({ reason: 'bad_body', path: '/cgi-bin/stable_token' });
    expect(toAppError(error)).toMatchObject({ code: 'wechat_unavailable', status: 503 });
  });
});

describe('flows let WeChat errors through and catch only what is flow-specific', () => {
  const deps = (error: Error) => ({
    appid: 'wx0000000000000001',
    store: {} as never, // never reached: the exchange fails first
    sessions: {} as never,
    sealer: {} as never,
    logger: silentLogger,
    inFlight: new Set<string>(),
    exchangeCode: async () => {
      throw error;
    },
  });

  it('40029 on a mini code propagates as the WeChat error itself', async () => {
    const wechat = new WechatApiError('/sns/jscode2session', 40029, 'invalid code');
    await expect(miniLogin(deps(wechat), { code: 'abcdefgh1' })).rejects.toBe(wechat);
  });

  it('40163 on a mini code is the mini flow\'s code_already_used (409)', async () => {
    const wechat = new WechatApiError('/sns/jscode2session', 40163, 'code been used');
    const error = await miniLogin(deps(wechat), { code: 'abcdefgh2' }).catch((e) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'code_already_used', status: 409, cause: wechat });
  });
});

describe('over HTTP', () => {
  it('a stable_token reply without a token answers 503 wechat_unavailable (was 500 internal_error), secret-free', async () => {
    const secret = 'a'.repeat(32);
    const fakeFetch = (async (url: URL | string) => {
      const path = new URL(String(url)).pathname;
      if (path === '/sns/jscode2session') return new Response(JSON.stringify({ openid: 'o-seam', session_key: Buffer.alloc(16, 3).toString('base64') }));
      if (path === '/cgi-bin/stable_token') return new Response('{"errcode":0,"errmsg":"ok"}'); // no access_token
      return new Response('{"errcode":-1,"errmsg":"system error"}');
    }) as typeof fetch;
    const services = createServices(
      optionsFromEnv({ NODE_ENV: 'test', WECHAT_MINI_APPID: 'wx0123456789abcdef', WECHAT_MINI_SECRET: secret, WECHAT_API_BASE: 'https://api.weixin.qq.com' }),
      { store: new EmbeddedStore({ dir: null }), logger: silentLogger, fetch: fakeFetch },
    );
    try {
      const login = await services.app.request('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'seam-code-1' }) });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const res = await services.app.request('/api/auth/me/phone', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ code: 'phone-code-1' }),
      });
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'wechat_unavailable', requestId: expect.any(String) } });
      expect(text).not.toContain(secret);
    } finally {
      services.stop();
    }
  });
});
