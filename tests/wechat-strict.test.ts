import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../api/_lib/log.js';
import { createTransport, parseWechatJson, WechatApiError } from '../api/_lib/wechat/transport.js';
import { snsUserInfo } from '../api/_lib/wechat/sns/userinfo.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * The simulator answers as WeChat does where WeChat is unkind (../shared/wechat-api-facts.md), and
 * the API copes: wrong AppSecret, 40014, -1, control characters, `language`.
 */
const lines: string[] = [];
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
});
afterAll(() => stack.close());

const simJson = async (res: Response) => JSON.parse(await res.text()) as Record<string, any>;
const fault = (api: string, mode: string | null, times = 1) => postJson(`${stack.simUrl}/__sim/faults`, { api, mode, times });
const login = async (user: string) => (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) })).body;
const bindPhone = async (token: string, user: string) => {
  const code = (await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user, phone: '13912345678' })).body.code;
  return postJson(`${stack.apiUrl}/api/me/phone`, { code }, { authorization: `Bearer ${token}` });
};

describe('wrong AppSecret (wechat-api-facts.md §6)', () => {
  it('cgi-bin/token answers 40001, stable_token 40125 invalid appsecret', async () => {
    const token = await simJson(await fetch(`${stack.simUrl}/cgi-bin/token?grant_type=client_credential&appid=${stack.appid}&secret=${'0'.repeat(32)}`));
    expect(token.errcode).toBe(40001);
    expect(token.errmsg).toMatch(/^invalid credential/);
    const stable = await simJson(
      await fetch(`${stack.simUrl}/cgi-bin/stable_token`, {
        method: 'POST',
        body: JSON.stringify({ grant_type: 'client_credential', appid: stack.appid, secret: '0'.repeat(32) }),
      }),
    );
    expect(stable.errcode).toBe(40125);
    expect(stable.errmsg).toMatch(/^invalid appsecret/);
  });

  it('the API reports a wrong secret on the token endpoint as wechat_config_invalid, not wechat_unavailable', async () => {
    const own = await startStack({ overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
    try {
      const user = (await postJson(`${own.apiUrl}/api/auth/mini/login`, { code: await simCode(own, 'badsecret') })).body;
      // The secret was changed on the platform after the server was configured.
      own.sim.apps.get(own.appid)!.secret = 'e'.repeat(32);
      const code = (await postJson(`${own.simUrl}/__sim/mini/phone-code`, { appid: own.appid, user: 'badsecret' })).body.code;
      const res = await postJson(`${own.apiUrl}/api/me/phone`, { code }, { authorization: `Bearer ${user.token}` });
      expect(res.status).toBe(500);
      expect(res.body.error).toMatchObject({ code: 'wechat_config_invalid', message: '服务端微信配置有误，请联系管理员' });
      expect(lines.some((l) => l.includes('wechat.token.config_invalid'))).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('a 40001 from the token endpoint itself is a configuration error too (cgi-bin/token wording)', async () => {
    const { createAccessTokens } = await import('../api/_lib/wechat/access-token.js');
    const { EmbeddedStore } = await import('../api/_lib/store/embedded.js');
    const { createSealer, parseSealKeys } = await import('../api/_lib/crypto/seal.js');
    const tokens = createAccessTokens({
      appid: 'wx0000000000000001',
      store: new EmbeddedStore({ dir: null }),
      sealer: createSealer(parseSealKeys(`k1:${Buffer.alloc(32, 1).toString('base64')}`)),
      logger: silentLogger,
      fetchToken: async () => {
        throw new WechatApiError('/cgi-bin/token', 40001, 'invalid credential, access_token is invalid or not latest');
      },
    });
    // a WeChat config error; the HTTP edge answers it wechat_config_invalid (test above)
    await expect(tokens.get()).rejects.toMatchObject({ name: 'WechatConfigError', reason: 'credentials', errcode: 40001 });
  });
});

describe('40014 invalid access_token gets the same recovery as 40001', () => {
  it('the phone number is bound although WeChat refused the first token with 40014', async () => {
    const user = await login('t40014');
    await fault('getuserphonenumber', 'invalid_access_token');
    const res = await bindPhone(user.token, 't40014');
    expect(res.status).toBe(200);
    expect(res.body.user.phoneMasked).toBe('139****5678');
    expect(lines.some((l) => l.includes('wechat.token.rejected') && l.includes('40014'))).toBe(true);
  });
});

describe('-1 system busy is retried once only where the call is safe to repeat', () => {
  it('stable_token: retried once, the phone number is bound', async () => {
    const own = await startStack();
    try {
      const user = (await postJson(`${own.apiUrl}/api/auth/mini/login`, { code: await simCode(own, 'busy') })).body;
      await postJson(`${own.simUrl}/__sim/faults`, { api: 'stable_token', mode: 'system_error', times: 1 });
      const code = (await postJson(`${own.simUrl}/__sim/mini/phone-code`, { appid: own.appid, user: 'busy' })).body.code;
      const res = await postJson(`${own.apiUrl}/api/me/phone`, { code }, { authorization: `Bearer ${user.token}` });
      expect(res.status).toBe(200);
      expect(own.sim.calls.get('stable_token')).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('jscode2session (a spent code) is NOT retried: one call, wechat_unavailable', async () => {
    const before = stack.sim.calls.get('jscode2session') ?? 0;
    await fault('jscode2session', 'system_error');
    const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'busy-mini') });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('wechat_unavailable');
    expect(stack.sim.calls.get('jscode2session')).toBe(before + 1);
  });

  it('getuserphonenumber (a spent code) is NOT retried', async () => {
    const user = await login('busy-phone');
    await bindPhone(user.token, 'busy-phone'); // the access token is in place
    const before = stack.sim.calls.get('getuserphonenumber') ?? 0;
    await fault('getuserphonenumber', 'system_error');
    const res = await bindPhone(user.token, 'busy-phone');
    expect(res.status).toBe(503);
    expect(stack.sim.calls.get('getuserphonenumber')).toBe(before + 1);
  });
});

describe('sns/userinfo (wechat-api-facts.md §5)', () => {
  /** An official-account snsapi_userinfo token straight from the simulator (consent already given). */
  async function userinfoToken(user: string) {
    const oa = stack.sim.apps.get(stack.oaAppid!)!;
    const authorize = new URL(`${stack.simUrl}/connect/oauth2/authorize`);
    const params = { appid: oa.appid, redirect_uri: 'http://127.0.0.1/cb', response_type: 'code', scope: 'snsapi_userinfo', state: 's1', sim_user: user };
    for (const [k, v] of Object.entries(params)) authorize.searchParams.set(k, v);
    const ticket = stack.sim.oa.ask({ appid: oa.appid, user, scope: 'snsapi_userinfo', redirectUri: 'http://127.0.0.1/cb', state: 's1' });
    stack.sim.oa.answer(ticket, true);
    const res = await fetch(authorize, { redirect: 'manual', headers: { 'user-agent': 'MicroMessenger/8.0.50' } });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const exchange = new URLSearchParams({ appid: oa.appid, secret: oa.secret, code, grant_type: 'authorization_code' });
    return simJson(await fetch(`${stack.simUrl}/sns/oauth2/access_token?${exchange}`));
  }

  it('carries language; a nickname with raw control characters arrives as WeChat sends it (invalid JSON)', async () => {
    await postJson(`${stack.simUrl}/__sim/users/profile`, { user: 'ctl', nickname: 'A\u0001B\u001f C' });
    const token = await userinfoToken('ctl');
    const raw = await (await fetch(`${stack.simUrl}/sns/userinfo?access_token=${token.access_token}&openid=${token.openid}&lang=zh_CN`)).text();
    expect(raw).toContain('"A\u0001B\u001f C"');
    expect(() => JSON.parse(raw)).toThrow();
    const transport = createTransport({ baseUrls: [stack.simUrl], timeoutMs: 3000, logger: silentLogger });
    const info = await snsUserInfo(transport, token.access_token, token.openid);
    expect(info).toMatchObject({ openid: token.openid, nickname: 'AB C', language: 'zh_CN' });
  });

  it('parseWechatJson keeps valid JSON as it is and only repairs raw control characters', () => {
    expect(parseWechatJson('{"a":"x\\u0001y","b":"\\n"}')).toEqual({ a: 'x\u0001y', b: '\n' });
    expect(parseWechatJson('{"nickname":"a\tb\u0002c"}')).toEqual({ nickname: 'a bc' });
    expect(() => parseWechatJson('{"a":')).toThrow();
  });

  it('-1 on sns/userinfo is retried once', async () => {
    const token = await userinfoToken('busy-info');
    const transport = createTransport({ baseUrls: [stack.simUrl], timeoutMs: 3000, logger: silentLogger });
    const before = stack.sim.calls.get('sns_userinfo') ?? 0;
    await fault('sns_userinfo', 'system_error');
    const info = await snsUserInfo(transport, token.access_token, token.openid);
    expect(info.nickname).toBe('busy-info');
    expect(stack.sim.calls.get('sns_userinfo')).toBe(before + 2);
  });
});

describe('simulator pages', () => {
  it('/favicon.ico is not a 404 (and not WeChat JSON)', async () => {
    const res = await fetch(`${stack.simUrl}/favicon.ico`);
    expect(res.status).toBe(204);
  });
});
