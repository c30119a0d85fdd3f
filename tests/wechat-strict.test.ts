import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../packages/server/src/log.js';
import { createTransport, parseWechatJson, WechatApiError } from '../packages/server/src/wechat/transport.js';
import { snsUserInfo } from '../packages/server/src/wechat/sns/userinfo.js';
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
  return postJson(`${stack.apiUrl}/api/auth/me/phone`, { code }, { authorization: `Bearer ${token}` });
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
      const res = await postJson(`${own.apiUrl}/api/auth/me/phone`, { code }, { authorization: `Bearer ${user.token}` });
      expect(res.status).toBe(500);
      expect(res.body.error).toMatchObject({ code: 'wechat_config_invalid', message: '服务端微信配置有误，请联系管理员' });
      expect(lines.some((l) => l.includes('wechat.token.config_invalid'))).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('a 40001 from the token endpoint itself is a configuration error too (cgi-bin/token wording)', async () => {
    const { createAccessTokens } = await import('../packages/server/src/wechat/access-token.js');
    const { EmbeddedStore } = await import('../packages/server/src/store/embedded.js');
    const { createSealer, parseSealKeys } = await import('../packages/server/src/crypto/seal.js');
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
      const res = await postJson(`${own.apiUrl}/api/auth/me/phone`, { code }, { authorization: `Bearer ${user.token}` });
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

/**
 * Where the product depends on it, the simulator answers as WeChat does (issue 18 item 7, each rule
 * cited in docs/WECHAT.md). One stack with a movable simulator clock and the API as the official
 * account's server URL (safe mode), so pushes reach the product.
 */
describe('simulator strictness (issue 18)', () => {
  const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN';
  let simNow = Date.now();
  let own: Stack;
  beforeAll(async () => {
    own = await startStack({
      simClock: () => simNow,
      env: { WECHAT_OA_TOKEN: 'strictToken42', WECHAT_OA_MESSAGE_MODE: 'safe', WECHAT_OA_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' },
    });
  });
  afterAll(() => own.close());
  const later = async (ms: number, run: () => Promise<void>) => {
    simNow += ms;
    try {
      await run();
    } finally {
      simNow = Date.now();
    }
  };
  const exchange = async (appid: string, code: string) => {
    const app = own.sim.apps.get(appid)!;
    return simJson(await fetch(`${own.simUrl}/sns/oauth2/access_token?${new URLSearchParams({ appid, secret: app.secret, code, grant_type: 'authorization_code' })}`));
  };
  const codeOf = (appid: string, user: string, scope: string) => new URL(own.sim.web.codeRedirect(appid, user, scope, 'http://127.0.0.1/cb', 's1')).searchParams.get('code')!;
  /** an official-account snsapi_userinfo grant straight from the simulator */
  const oaGrant = async (user: string) => exchange(own.oaAppid!, codeOf(own.oaAppid!, user, 'snsapi_userinfo'));
  const oaToken = async () => {
    const oa = own.sim.apps.get(own.oaAppid!)!;
    return (await simJson(await fetch(`${own.simUrl}/cgi-bin/token?grant_type=client_credential&appid=${oa.appid}&secret=${oa.secret}`))).access_token as string;
  };

  it('42007: after the person withdraws the authorization, sns/userinfo, sns/auth and sns/oauth2/refresh_token answer 42007', async () => {
    const grant = await oaGrant('revoker');
    const revoke = await postJson(`${own.simUrl}/__sim/users/revoke`, { appid: own.oaAppid, user: 'revoker' });
    expect(revoke.status).toBe(200);
    const info = await simJson(await fetch(`${own.simUrl}/sns/userinfo?access_token=${grant.access_token}&openid=${grant.openid}`));
    expect(info.errcode).toBe(42007);
    expect(info.errmsg).toMatch(/^access_token and refresh_token exception/);
    expect((await simJson(await fetch(`${own.simUrl}/sns/auth?access_token=${grant.access_token}&openid=${grant.openid}`))).errcode).toBe(42007);
    const refresh = await simJson(await fetch(`${own.simUrl}/sns/oauth2/refresh_token?appid=${own.oaAppid}&grant_type=refresh_token&refresh_token=${grant.refresh_token}`));
    expect(refresh.errcode).toBe(42007);
    // a new authorization works again
    const again = await oaGrant('revoker');
    expect((await simJson(await fetch(`${own.simUrl}/sns/auth?access_token=${again.access_token}&openid=${again.openid}`))).errcode).toBe(0);
  });

  it('unfollowing pushes `unsubscribe` to the server URL (the API answers it), and user/info then says subscribe 0', async () => {
    await postJson(`${own.simUrl}/__sim/oa/follow`, { appid: own.oaAppid, user: 'leaver', following: true });
    const before = own.sim.oaServer.pushes.length;
    const res = await postJson(`${own.simUrl}/__sim/oa/unfollow`, { appid: own.oaAppid, user: 'leaver' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ event: 'unsubscribe', delivered: true, attempts: [{ status: 200 }] });
    expect(own.sim.oaServer.pushes.slice(before)).toEqual([{ appid: own.oaAppid, user: 'leaver', event: 'unsubscribe', attempts: 1, reply: null }]);
    const info = await simJson(await fetch(`${own.simUrl}/cgi-bin/user/info?access_token=${await oaToken()}&openid=${res.body.openid}&lang=zh_CN`));
    expect(info).toEqual({ subscribe: 0, openid: res.body.openid, tagid_list: [] });
    // nobody left to unfollow
    expect((await postJson(`${own.simUrl}/__sim/oa/unfollow`, { appid: own.oaAppid, user: 'leaver' })).status).toBe(409);
  });

  it('cgi-bin/user/info: qr_scene_str / qr_scene / subscribe_scene of a follower who came by a QR code; subscribe 0 for an openid of this account that never followed; 40003 for another app\'s', async () => {
    const token = await oaToken();
    const qr = await simJson(
      await fetch(`${own.simUrl}/cgi-bin/qrcode/create?access_token=${token}`, {
        method: 'POST',
        body: JSON.stringify({ expire_seconds: 300, action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'promo_1' } } }),
      }),
    );
    const scan = await postJson(`${own.simUrl}/__sim/oa/scan`, { user: 'qr-follower', qr: qr.ticket });
    expect(scan.body).toMatchObject({ event: 'subscribe', newFollower: true });
    const info = await simJson(await fetch(`${own.simUrl}/cgi-bin/user/info?access_token=${token}&openid=${scan.body.openid}&lang=zh_CN`));
    expect(info).toMatchObject({ subscribe: 1, openid: scan.body.openid, subscribe_scene: 'ADD_SCENE_QR_CODE', qr_scene: 0, qr_scene_str: 'promo_1', subscribe_time: Math.floor(simNow / 1000) });
    // someone who only authorized a page of the account (snsapi_base): an openid of this account, never a follower
    const base = await exchange(own.oaAppid!, codeOf(own.oaAppid!, 'page-visitor', 'snsapi_base'));
    expect(await simJson(await fetch(`${own.simUrl}/cgi-bin/user/info?access_token=${token}&openid=${base.openid}`))).toEqual({ subscribe: 0, openid: base.openid, tagid_list: [] });
    // the mini-program's openid of the same person is not this account's
    const mini = await simJson(await fetch(`${own.simUrl}/sns/jscode2session?appid=${own.appid}&secret=${own.sim.apps.get(own.appid)!.secret}&js_code=${await simCode(own, 'page-visitor')}&grant_type=authorization_code`));
    expect((await simJson(await fetch(`${own.simUrl}/cgi-bin/user/info?access_token=${token}&openid=${mini.openid}`))).errcode).toBe(40003);
  });

  it('a website-login code lives 10 minutes (an official account\'s 5)', async () => {
    const web = codeOf(own.webAppid!, 'slow-scanner', 'snsapi_login');
    const oa = codeOf(own.oaAppid!, 'slow-scanner', 'snsapi_base');
    const webLate = codeOf(own.webAppid!, 'slow-scanner', 'snsapi_login');
    await later(6 * 60_000, async () => {
      expect(await exchange(own.webAppid!, web)).toMatchObject({ scope: 'snsapi_login', openid: expect.any(String) });
      expect((await exchange(own.oaAppid!, oa)).errcode).toBe(40029);
    });
    await later(10 * 60_000 + 1000, async () => {
      expect((await exchange(own.webAppid!, webLate)).errcode).toBe(40029);
    });
  });

  it('sns/oauth2/refresh_token renews an unexpired access_token (same token, 2 more hours) and mints one only after it expired', async () => {
    const grant = await oaGrant('refresher');
    const refresh = async () => simJson(await fetch(`${own.simUrl}/sns/oauth2/refresh_token?appid=${own.oaAppid}&grant_type=refresh_token&refresh_token=${grant.refresh_token}`));
    const auth = async (token: string) => (await simJson(await fetch(`${own.simUrl}/sns/auth?access_token=${token}&openid=${grant.openid}`))).errcode;
    const start = simNow;
    simNow = start + 3600_000;
    try {
      const renewed = await refresh();
      expect(renewed).toMatchObject({ access_token: grant.access_token, expires_in: 7200, refresh_token: grant.refresh_token, openid: grant.openid });
      simNow = start + 2.5 * 3600_000; // past the first 2 hours, within the renewed ones
      expect(await auth(grant.access_token)).toBe(0);
      simNow = start + 4 * 3600_000; // the renewed expiry is past too
      expect(await auth(grant.access_token)).toBe(42001);
      const fresh = await refresh();
      expect(fresh.access_token).not.toBe(grant.access_token);
      expect(await auth(fresh.access_token)).toBe(0);
    } finally {
      simNow = Date.now();
    }
  });

  it('oauth2/authorize refuses parameters out of their documented order (该链接无法访问); the product\'s own URL is in order', async () => {
    const oa = own.oaAppid!;
    const ordered = new URLSearchParams({ appid: oa, redirect_uri: 'http://127.0.0.1/cb', response_type: 'code', scope: 'snsapi_base', state: 'abc' });
    const shuffled = new URLSearchParams({ redirect_uri: 'http://127.0.0.1/cb', appid: oa, scope: 'snsapi_base', response_type: 'code', state: 'abc' });
    const ok = await fetch(`${own.simUrl}/connect/oauth2/authorize?${ordered}`, { redirect: 'manual', headers: { 'user-agent': UA } });
    expect(ok.status).toBe(302);
    const refused = await fetch(`${own.simUrl}/connect/oauth2/authorize?${shuffled}`, { redirect: 'manual', headers: { 'user-agent': UA } });
    expect(refused.status).toBe(400);
    const html = await refused.text();
    expect(html).toContain('该链接无法访问');
    expect(html).toContain('参数顺序');
    const start = await fetch(`${own.apiUrl}/api/auth/oa/start`, { redirect: 'manual' });
    const url = new URL(start.headers.get('location')!);
    expect([...url.searchParams.keys()]).toEqual(['appid', 'redirect_uri', 'response_type', 'scope', 'state']);
    expect(url.hash).toBe('#wechat_redirect');
  });

  it('content type as WeChat labels it: sns/* text/plain, cgi-bin/* and wxa/* application/json; encoding=utf-8', async () => {
    const oa = own.sim.apps.get(own.oaAppid!)!;
    const token = await fetch(`${own.simUrl}/cgi-bin/token?grant_type=client_credential&appid=${oa.appid}&secret=${oa.secret}`);
    expect(token.headers.get('content-type')).toBe('application/json; encoding=utf-8');
    const sns = await fetch(`${own.simUrl}/sns/jscode2session?appid=${own.appid}&secret=${own.sim.apps.get(own.appid)!.secret}&js_code=${await simCode(own, 'ctype')}&grant_type=authorization_code`);
    expect(sns.headers.get('content-type')).toBe('text/plain');
    const error = await fetch(`${own.simUrl}/wxa/msg_sec_check?access_token=nope`, { method: 'POST', body: '{}' });
    expect(error.headers.get('content-type')).toBe('application/json; encoding=utf-8');
  });

  it('a code that never was valid: 40029 the first time, 40163 the second (jscode2session and sns/oauth2/access_token)', async () => {
    const mini = own.sim.apps.get(own.appid)!;
    const bogus = 'Zz9'.repeat(10);
    const jscode = async () => (await simJson(await fetch(`${own.simUrl}/sns/jscode2session?appid=${mini.appid}&secret=${mini.secret}&js_code=${bogus}&grant_type=authorization_code`))).errcode;
    expect(await jscode()).toBe(40029);
    expect(await jscode()).toBe(40163);
    expect((await exchange(own.webAppid!, bogus)).errcode).toBe(40029);
    expect((await exchange(own.webAppid!, bogus)).errcode).toBe(40163);
    // the product's answers to the two: code_invalid, then code_already_used
    const first = await postJson(`${own.apiUrl}/api/auth/mini/login`, { code: 'Yy8'.repeat(10) });
    const second = await postJson(`${own.apiUrl}/api/auth/mini/login`, { code: 'Yy8'.repeat(10) });
    expect([first.body.error.code, second.body.error.code]).toEqual(['code_invalid', 'code_already_used']);
  });

  it('GET on a POST-only API: 43002 require POST method', async () => {
    const token = await oaToken();
    for (const path of ['/cgi-bin/stable_token', `/wxa/business/getuserphonenumber?access_token=${token}`, `/wxa/msg_sec_check?access_token=${token}`, `/cgi-bin/qrcode/create?access_token=${token}`]) {
      const body = await simJson(await fetch(`${own.simUrl}${path}`));
      expect(body.errcode, path).toBe(43002);
      expect(body.errmsg).toMatch(/^require POST method/);
    }
  });
});
