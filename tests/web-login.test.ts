import { compareAndSetRecord, getRecord } from './support/records.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Website QR login (微信扫码登录) over real HTTP: API + simulator, the browser played by fetch
 * (cookies by hand), the phone played through the simulator's control endpoints.
 */
const lines: string[] = [];
const bodies: string[] = [];
let stack: Stack;
let offset = 0; // the simulator's clock runs `offset` ms ahead
beforeAll(async () => {
  stack = await startStack({ simClock: () => Date.now() + offset, overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
});
afterAll(() => stack.close());

interface Started {
  state: string;
  cookie: string;
  setCookie: string;
  location: URL;
}

/** The browser opens /api/auth/web/qr: a 302 to qrconnect and the state cookie. */
async function startQr(next?: string): Promise<Started> {
  const res = await fetch(`${stack.apiUrl}/api/auth/web/qr${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const state = location.searchParams.get('state')!;
  return { state, cookie: setCookie.split(';')[0]!, setCookie, location };
}

/** The browser shows WeChat's QR page; the test reads the QR's uuid from it. */
async function qrUuid(location: URL): Promise<string> {
  const res = await fetch(location);
  const html = await res.text();
  expect(res.status).toBe(200);
  const uuid = /data-uuid="([0-9a-f]+)"/.exec(html)?.[1];
  expect(uuid).toBeTruthy();
  return uuid!;
}

async function control(action: 'scan' | 'confirm' | 'cancel', body: Record<string, unknown>) {
  return postJson(`${stack.simUrl}/__sim/web/${action}`, body);
}

async function qrStatus(uuid: string): Promise<{ status: string; redirectUrl?: string }> {
  return (await fetch(`${stack.simUrl}/connect/qrconnect/status/${uuid}`)).json() as Promise<{ status: string; redirectUrl?: string }>;
}

/** The phone scans and confirms; the QR page's poll then yields WeChat's redirect to us. */
async function phoneConfirms(uuid: string, user: string): Promise<URL> {
  expect((await control('scan', { uuid, user })).status).toBe(200);
  expect((await qrStatus(uuid)).status).toBe('scanned');
  expect((await control('confirm', { uuid })).status).toBe(200);
  const polled = await qrStatus(uuid);
  expect(polled.status).toBe('confirmed');
  return new URL(polled.redirectUrl!);
}

async function callback(url: URL | string, cookie?: string) {
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const location = res.headers.get('location') ?? '';
  bodies.push(location, await res.text());
  return { status: res.status, location, setCookie: res.headers.get('set-cookie') };
}

async function takeSession(state: string, cookie?: string) {
  const res = await postJson(`${stack.apiUrl}/api/auth/web/session`, { state }, cookie ? { cookie } : {});
  bodies.push(JSON.stringify(res.body));
  return res;
}

/** The whole web login of one simulated person; returns the session response. */
async function webLogin(user: string) {
  const started = await startQr();
  const redirect = await phoneConfirms(await qrUuid(started.location), user);
  const cb = await callback(redirect, started.cookie);
  expect(cb.location).toBe(`/uni_modules/wlu-wxlogin/pages/login/index?web_login=${started.state}#`);
  const res = await takeSession(started.state, started.cookie);
  expect(res.status).toBe(200);
  return res.body as { token: string; expiresAt: string; isNewUser: boolean; user: { id: string; nickname: string | null; avatarUrl: string | null; profileComplete: boolean } };
}

const me = (token: string) => fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });

describe('website QR login, end to end', () => {
  it('qr → WeChat page → scan + confirm → callback → handoff → a working session', async () => {
    const started = await startQr('/pages/account/index');
    // 302 to WeChat's qrconnect with everything WeChat requires
    expect(`${started.location.origin}${started.location.pathname}`).toBe(`${stack.simUrl}/connect/qrconnect`);
    expect(started.location.hash).toBe('#wechat_redirect');
    expect(Object.fromEntries(started.location.searchParams)).toEqual({
      appid: stack.webAppid,
      redirect_uri: `${stack.apiUrl}/api/auth/web/callback`,
      response_type: 'code',
      scope: 'snsapi_login',
      state: started.state,
    });
    expect(started.state).toMatch(/^[A-Za-z0-9]{32}$/);
    // the state is bound to this browser
    expect(started.setCookie).toMatch(/^wx_web_state=[A-Za-z0-9]{32}; Max-Age=600; Path=\/api\/auth\/web; HttpOnly; SameSite=Lax$/);
    expect(started.cookie).toBe(`wx_web_state=${started.state}`);

    const uuid = await qrUuid(started.location);
    expect((await qrStatus(uuid)).status).toBe('waiting');
    const redirect = await phoneConfirms(uuid, 'webby');
    expect(`${redirect.origin}${redirect.pathname}`).toBe(`${stack.apiUrl}/api/auth/web/callback`);
    expect(redirect.searchParams.get('state')).toBe(started.state);
    expect(redirect.searchParams.get('code')).toBeTruthy();

    const cb = await callback(redirect, started.cookie);
    expect(cb.status).toBe(302);
    expect(cb.location).toBe(`/uni_modules/wlu-wxlogin/pages/login/index?web_login=${started.state}#`);

    const res = await takeSession(started.state, started.cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('set-cookie')).toMatch(/^wx_web_state=; Max-Age=0; Path=\/api\/auth\/web/);
    expect(res.body.token).toMatch(/^[a-z2-7]{32}$/);
    expect(res.body.isNewUser).toBe(true);
    // sns/userinfo seeded the brand-new account
    expect(res.body.user).toMatchObject({ nickname: 'webby', profileComplete: true });
    expect(res.body.user.avatarUrl).toMatch(/^https:\/\/thirdwx\.qlogo\.cn\//);

    const meRes = await me(res.body.token);
    expect(meRes.status).toBe(200);
    expect(((await meRes.json()) as { user: { id: string } }).user.id).toBe(res.body.user.id);
    const sessions = (await (await fetch(`${stack.apiUrl}/api/auth/sessions`, { headers: { authorization: `Bearer ${res.body.token}` } })).json()) as {
      sessions: { via: string; current: boolean }[];
    };
    expect(sessions.sessions.find((s) => s.current)?.via).toBe('web-qr');
  });

  it('a second website login of the same person is the same account, not new', async () => {
    const first = await webLogin('repeat');
    const second = await webLogin('repeat');
    expect(second.user.id).toBe(first.user.id);
    expect(second.isNewUser).toBe(false);
    expect(second.token).not.toBe(first.token);
  });

  it('passes a same-site `next` on and ignores any other', async () => {
    for (const [next, expected] of [
      ['/uni_modules/wlu-wxlogin/pages/profile/index', '/uni_modules/wlu-wxlogin/pages/profile/index'],
      ['//evil.example/x', null],
      ['https://evil.example/', null],
      ['/\\evil.example', null],
    ] as const) {
      const started = await startQr(next);
      const redirect = await phoneConfirms(await qrUuid(started.location), 'nexty');
      const cb = await callback(redirect, started.cookie);
      const url = new URL(cb.location, 'http://h5.example');
      expect(url.pathname).toBe('/uni_modules/wlu-wxlogin/pages/login/index');
      expect(url.searchParams.get('next')).toBe(expected);
      expect((await takeSession(started.state, started.cookie)).status).toBe(200);
    }
  });
});

describe('one person, one account across the mini-program and the website (unionid)', () => {
  it('mini-program first, then the website: the same user', async () => {
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'both-mini-first') });
    expect(mini.status).toBe(200);
    const web = await webLogin('both-mini-first');
    expect(web.user.id).toBe(mini.body.user.id);
    expect(web.isNewUser).toBe(false);
    // an existing account keeps its (empty) profile: userinfo only seeds new accounts
    expect(web.user.nickname).toBeNull();
  });

  it('website first, then the mini-program: the same user', async () => {
    const web = await webLogin('both-web-first');
    expect(web.isNewUser).toBe(true);
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'both-web-first') });
    expect(mini.body.user.id).toBe(web.user.id);
    expect(mini.body.isNewUser).toBe(false);
    expect(mini.body.user.nickname).toBe('both-web-first');
  });

  it('different openids per app, one unionid', async () => {
    const openidMini = stack.sim.openid(stack.appid, 'someone');
    const openidWeb = stack.sim.openid(stack.webAppid!, 'someone');
    expect(openidMini).not.toBe(openidWeb);
  });
});

describe('bad, replayed and foreign callbacks end on the login page with a code', () => {
  const errorOf = (location: string) => new URL(location, 'http://h5.example').searchParams.get('web_login_error');

  it('state not matching this browser\'s cookie (login CSRF) is refused', async () => {
    const victim = await startQr();
    const attacker = await startQr();
    const redirect = await phoneConfirms(await qrUuid(attacker.location), 'attacker');
    const cb = await callback(redirect, victim.cookie);
    expect(cb.status).toBe(302);
    expect(new URL(cb.location, 'http://x').pathname).toBe('/uni_modules/wlu-wxlogin/pages/login/index');
    expect(errorOf(cb.location)).toBe('web_login_state_invalid');
  });

  it('a callback without the cookie is refused', async () => {
    const started = await startQr();
    const redirect = await phoneConfirms(await qrUuid(started.location), 'nocookie');
    expect(errorOf((await callback(redirect)).location)).toBe('web_login_state_invalid');
  });

  it('missing or malformed state and code are refused without a crash', async () => {
    const started = await startQr();
    for (const query of ['', '?code=abc', `?state=${started.state}`, '?state=%00%01&code=x', `?state=${'a'.repeat(300)}&code=x`]) {
      const cb = await callback(`${stack.apiUrl}/api/auth/web/callback${query}`, started.cookie);
      expect(cb.status).toBe(302);
      expect(errorOf(cb.location)).toMatch(/^(web_login_state_invalid|code_invalid)$/);
    }
  });

  it('a state the server never issued is refused even with a matching cookie', async () => {
    const forged = 'A'.repeat(32);
    const cb = await callback(`${stack.apiUrl}/api/auth/web/callback?code=abcdef&state=${forged}`, `wx_web_state=${forged}`);
    expect(errorOf(cb.location)).toBe('web_login_state_invalid');
  });

  it('a replayed callback (reload, back button) is refused', async () => {
    const started = await startQr();
    const redirect = await phoneConfirms(await qrUuid(started.location), 'replay');
    expect((await callback(redirect, started.cookie)).location).toContain('web_login=');
    const again = await callback(redirect, started.cookie);
    expect(errorOf(again.location)).toBe('web_login_state_used');
  });

  it('a WeChat code used once already is answered as code_invalid (WeChat 40163)', async () => {
    const first = await startQr();
    const redirect = await phoneConfirms(await qrUuid(first.location), 'reuse');
    expect((await callback(redirect, first.cookie)).location).toContain('web_login=');
    const second = await startQr();
    const cb = await callback(`${stack.apiUrl}/api/auth/web/callback?code=${redirect.searchParams.get('code')}&state=${second.state}`, second.cookie);
    expect(errorOf(cb.location)).toBe('code_invalid');
  });

  it('WeChat down → wechat_unavailable; userinfo down → the login still works', async () => {
    await postJson(`${stack.simUrl}/__sim/faults`, { api: 'oauth2_access_token', mode: 'system_error', times: 1 });
    const a = await startQr();
    const cb = await callback(await phoneConfirms(await qrUuid(a.location), 'down'), a.cookie);
    expect(errorOf(cb.location)).toBe('wechat_unavailable');

    await postJson(`${stack.simUrl}/__sim/faults`, { api: 'sns_userinfo', mode: 'http_500', times: 1 });
    const user = await webLogin('no-userinfo');
    expect(user.isNewUser).toBe(true);
    expect(user.user.nickname).toBeNull();
    expect(lines.some((l) => l.includes('auth.web.userinfo_skipped'))).toBe(true);
  });

  it('the handoff is taken once, only with the cookie of the browser that started it', async () => {
    const started = await startQr();
    await callback(await phoneConfirms(await qrUuid(started.location), 'handoff'), started.cookie);
    const noCookie = await takeSession(started.state);
    expect(noCookie.status).toBe(400);
    expect(noCookie.body.error.code).toBe('web_login_state_invalid');
    const other = await startQr();
    expect((await takeSession(started.state, other.cookie)).body.error.code).toBe('web_login_state_invalid');
    expect((await takeSession(started.state, started.cookie)).status).toBe(200);
    const twice = await takeSession(started.state, started.cookie);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('web_login_state_used');
    expect(twice.body.error.message).toMatch(/[\u4e00-\u9fa5]/);
  });

  it('a handoff nobody collected expires after 60 s', async () => {
    const started = await startQr();
    await callback(await phoneConfirms(await qrUuid(started.location), 'late'), started.cookie);
    const base = stack.services.store;
    // Age the handoff record by rewriting its expiry (the API clock is the real one).
    const { sha256Hex } = await import('../packages/server/src/crypto/tokens.js');
    const id = `web-login:${sha256Hex(started.state)}`;
    const record = (await getRecord(base, id))!;
    await compareAndSetRecord(base, id, { ...record.value, expiresAt: new Date(Date.now() - 1000).toISOString() }, record.version);
    const res = await takeSession(started.state, started.cookie);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('web_login_state_invalid');
  });

  it('bad session bodies get the envelope; wrong methods get 405', async () => {
    expect((await postJson(`${stack.apiUrl}/api/auth/web/session`, {})).body.error.code).toBe('invalid_request');
    const put = await fetch(`${stack.apiUrl}/api/auth/web/session`, { method: 'GET' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    const post = await fetch(`${stack.apiUrl}/api/auth/web/qr`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('without a website app the endpoints say web_login_not_configured', async () => {
    const bare = await startStack({ web: false });
    try {
      const qr = await fetch(`${bare.apiUrl}/api/auth/web/qr`, { redirect: 'manual' });
      expect(qr.status).toBe(302);
      expect(qr.headers.get('location')).toBe('/uni_modules/wlu-wxlogin/pages/login/index?web_login_error=web_login_not_configured#');
      const res = await postJson(`${bare.apiUrl}/api/auth/web/session`, { state: 'A'.repeat(32) });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('web_login_not_configured');
    } finally {
      await bare.close();
    }
  });
});

describe('secrets', () => {
  it('WeChat access_token / refresh_token, the AppSecret, codes and bearer tokens never leak', async () => {
    const tokens: string[] = [];
    const codes: string[] = [];
    for (const user of ['leak-1', 'leak-2']) {
      const started = await startQr();
      const redirect = await phoneConfirms(await qrUuid(started.location), user);
      codes.push(redirect.searchParams.get('code')!);
      await callback(redirect, started.cookie);
      const res = await takeSession(started.state, started.cookie);
      tokens.push(res.body.token);
    }
    const wechatSecrets = stack.sim.web.issuedSecrets;
    expect(wechatSecrets.length).toBeGreaterThan(4);
    const responses = bodies.join('\n');
    for (const secret of [...wechatSecrets, stack.services.config.web!.secret]) {
      expect(lines.find((l) => l.includes(secret))).toBeUndefined();
      expect(responses.includes(secret)).toBe(false);
    }
    for (const value of [...codes, ...tokens]) expect(lines.find((l) => l.includes(value))).toBeUndefined();
    expect(lines.some((l) => l.includes('auth.web.login'))).toBe(true);
  });
});

describe('the simulator is as strict as WeChat', () => {
  const qrconnect = (params: Record<string, string>) => fetch(`${stack.simUrl}/connect/qrconnect?${new URLSearchParams(params)}`);
  const good = () => ({ appid: stack.webAppid!, redirect_uri: 'http://127.0.0.1/cb', response_type: 'code', scope: 'snsapi_login', state: 'abc123' });

  it.each([
    ['a state outside [A-Za-z0-9]', { state: 'a-b_c' }],
    ['a state over 128 characters', { state: 'a'.repeat(129) }],
    ['a wrong scope', { scope: 'snsapi_userinfo' }],
    ['a missing redirect_uri', { redirect_uri: '' }],
    ['response_type other than code', { response_type: 'token' }],
    ['the mini-program appid', { appid: 'MINI' }],
    ['an unknown appid', { appid: 'wx0000000000000000' }],
  ])('refuses %s with an error page', async (_name, patch) => {
    const params = { ...good(), ...patch } as Record<string, string>;
    if (params.appid === 'MINI') params.appid = stack.appid;
    const res = await qrconnect(params);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('该链接无法访问');
    expect(html).not.toContain('data-uuid');
  });

  it('renders the QR page in Chinese with a QR image of the phone URL', async () => {
    const html = await (await qrconnect(good())).text();
    expect(html).toContain('微信登录');
    expect(html).toContain('请使用微信扫描二维码登录');
    expect(html).toMatch(/<img class="qr" alt="二维码" src="data:image\/png;base64,/);
    expect(html).toMatch(new RegExp(`data-phone-url="${stack.simUrl}/__sim/web/scan/[0-9a-f]+"`));
  });

  it('the phone page marks the QR scanned; cancel shows as cancelled', async () => {
    const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await qrconnect(good())).text())![1]!;
    const phone = await fetch(`${stack.simUrl}/__sim/web/scan/${uuid}?user=bob`);
    const html = await phone.text();
    expect(html).toContain('确认登录');
    expect(html).toContain('取消');
    expect((await qrStatus(uuid)).status).toBe('scanned');
    expect((await control('cancel', { uuid })).status).toBe(200);
    expect((await qrStatus(uuid)).status).toBe('cancelled');
    expect((await control('confirm', { uuid })).status).toBe(409);
  });

  it('a QR code expires after 5 minutes (simulator clock)', async () => {
    const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await qrconnect(good())).text())![1]!;
    offset += 5 * 60 * 1000 + 1000;
    expect((await qrStatus(uuid)).status).toBe('expired');
    expect((await control('scan', { uuid, user: 'slow' })).status).toBe(409);
  });

  it('a redirect_uri outside the 授权回调域 gets 该链接无法访问 (wechat-api-facts.md §4)', async () => {
    const res = await qrconnect({ ...good(), redirect_uri: 'https://evil.example/cb' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('该链接无法访问');
    expect(html).toContain('redirect_uri 域名与后台配置不一致');
    expect(html).not.toContain('data-uuid');
  });

  it('the QR page offers 刷新二维码 once the code expired or was cancelled', async () => {
    const html = await (await qrconnect(good())).text();
    expect(html).toMatch(/<button id="refresh"[^>]*hidden[^>]*>刷新二维码<\/button>/);
  });

  it('the phone pages speak Chinese: expired, used and unknown QR codes', async () => {
    const phone = async (uuid: string) => (await fetch(`${stack.simUrl}/__sim/web/scan/${uuid}?user=zoe`)).text();
    expect(await phone('0'.repeat(32))).toContain('二维码无效，请在电脑上刷新二维码');
    const used = /data-uuid="([0-9a-f]+)"/.exec(await (await qrconnect(good())).text())![1]!;
    await control('scan', { uuid: used, user: 'zoe' });
    await control('confirm', { uuid: used });
    const html = await phone(used);
    expect(html).toContain('二维码已使用，请在电脑上刷新二维码');
    expect(html).not.toMatch(/QR code is/);
    const old = /data-uuid="([0-9a-f]+)"/.exec(await (await qrconnect(good())).text())![1]!;
    offset += 5 * 60 * 1000 + 1000;
    expect(await phone(old)).toContain('二维码已过期，请在电脑上刷新二维码');
  });

  it('the website app keeps its unionid (snsapi_login is a userinfo authorization, §5)', async () => {
    const web = stack.sim.apps.get(stack.webAppid!)!;
    const started = await startQr();
    const redirect = await phoneConfirms(await qrUuid(started.location), 'union-web');
    const exchange = new URLSearchParams({ appid: web.appid, secret: web.secret, code: redirect.searchParams.get('code')!, grant_type: 'authorization_code' });
    const ok = JSON.parse(await (await fetch(`${stack.simUrl}/sns/oauth2/access_token?${exchange}`)).text());
    expect(ok.unionid).toBe(stack.sim.unionid(web, 'union-web'));
    expect(ok).not.toHaveProperty('is_snapshotuser');
  });

  it('codes are single use and live 10 minutes (website login); appid, secret and grant_type are checked', async () => {
    const web = stack.sim.apps.get(stack.webAppid!)!;
    const code = async () => {
      const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await qrconnect(good())).text())![1]!;
      await control('scan', { uuid, user: 'carol' });
      return new URL((await control('confirm', { uuid })).body.redirectUrl).searchParams.get('code')!;
    };
    const exchange = async (params: Record<string, string>) =>
      JSON.parse(await (await fetch(`${stack.simUrl}/sns/oauth2/access_token?${new URLSearchParams(params)}`)).text()) as Record<string, any>;
    const base = { appid: web.appid, secret: web.secret, grant_type: 'authorization_code' };

    expect((await exchange({ ...base, code: await code(), appid: 'wx0000000000000000' })).errcode).toBe(40013);
    expect((await exchange({ ...base, code: await code(), secret: 'f'.repeat(32) })).errcode).toBe(40125);
    expect((await exchange({ ...base, code: await code(), grant_type: 'client_credential' })).errcode).toBe(40002);
    expect((await exchange({ ...base, code: 'nope' })).errcode).toBe(40029);

    const c = await code();
    const ok = await exchange({ ...base, code: c });
    expect(ok).toMatchObject({ expires_in: 7200, scope: 'snsapi_login', openid: stack.sim.openid(web.appid, 'carol') });
    expect(ok.unionid).toBe(stack.sim.unionid(web, 'carol'));
    expect(typeof ok.refresh_token).toBe('string');
    expect(ok.errcode).toBeUndefined();
    expect((await exchange({ ...base, code: c })).errcode).toBe(40163);

    const userinfo = async (params: Record<string, string>) =>
      JSON.parse(await (await fetch(`${stack.simUrl}/sns/userinfo?${new URLSearchParams(params)}`)).text()) as Record<string, any>;
    const info = await userinfo({ access_token: ok.access_token, openid: ok.openid, lang: 'zh_CN' });
    expect(info).toMatchObject({ openid: ok.openid, nickname: 'carol', sex: 0, province: '', city: '', country: '', privilege: [], unionid: ok.unionid });
    expect((await userinfo({ openid: ok.openid })).errcode).toBe(41001);
    expect((await userinfo({ access_token: 'bogus', openid: ok.openid })).errcode).toBe(40001);

    const late = await code();
    offset += 10 * 60 * 1000 + 1000;
    expect((await exchange({ ...base, code: late })).errcode).toBe(40029);
    offset += 7200 * 1000;
    expect((await userinfo({ access_token: ok.access_token, openid: ok.openid })).errcode).toBe(42001);
  });
});
