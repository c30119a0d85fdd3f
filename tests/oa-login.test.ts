import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Official-account web authorization (公众号网页授权) over real HTTP: API + simulator, the H5 page
 * inside WeChat played by fetch with a MicroMessenger User-Agent (cookies by hand).
 */
const WECHAT_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';
const lines: string[] = [];
const bodies: string[] = [];
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
});
afterAll(() => stack.close());

const errorOf = (location: string) => new URL(location, 'http://h5.example').searchParams.get('oa_login_error');

/** The H5 page sends the browser to /api/auth/oa/start: a 302 to WeChat's oauth2/authorize and the state cookie. */
async function start(query: Record<string, string> = {}) {
  const res = await fetch(`${stack.apiUrl}/api/auth/oa/start?${new URLSearchParams(query)}`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { state: location.searchParams.get('state')!, cookie: setCookie.split(';')[0]!, setCookie, location };
}

/** WeChat's authorize page for the simulated person `user`, as the in-app browser opens it. */
async function authorize(location: URL, user: string, ua = WECHAT_UA) {
  const url = new URL(location);
  url.searchParams.set('sim_user', user);
  const res = await fetch(url, { redirect: 'manual', headers: { 'user-agent': ua } });
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}

/** 允许 / 拒绝 on the consent page. */
async function consent(html: string, action: 'allow' | 'deny'): Promise<string> {
  const ticket = /data-ticket="([A-Za-z0-9]+)"/.exec(html)?.[1];
  expect(ticket).toBeTruthy();
  const res = await fetch(`${stack.simUrl}/__sim/oa/consent`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ ticket: ticket!, action }), headers: { 'user-agent': WECHAT_UA } });
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

async function callback(url: string, cookie?: string) {
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const location = res.headers.get('location') ?? '';
  bodies.push(location, await res.text());
  return { status: res.status, location };
}

async function takeSession(state: string, cookie?: string) {
  const res = await postJson(`${stack.apiUrl}/api/auth/oa/session`, { state }, cookie ? { cookie } : {});
  bodies.push(JSON.stringify(res.body));
  return res;
}

type LoginBody = { token: string; isNewUser: boolean; user: { id: string; nickname: string | null; avatarUrl: string | null } };

/**
 * The whole official-account login of one person as the H5 page runs it: silently with snsapi_base
 * first; when the server answers oa_login_consent_required (an openid it does not know), again with
 * snsapi_userinfo, consenting when WeChat asks. `scope` forces a single attempt with that scope.
 */
async function oaLogin(user: string, scope?: 'snsapi_base' | 'snsapi_userinfo'): Promise<LoginBody> {
  let started = await start(scope ? { scope } : {});
  let page = await authorize(started.location, user);
  let redirect = page.status === 302 ? page.location! : await consent(page.html, 'allow');
  let cb = await callback(redirect, started.cookie);
  if (!scope && errorOf(cb.location) === 'oa_login_consent_required') {
    started = await start({ scope: 'snsapi_userinfo' });
    page = await authorize(started.location, user);
    redirect = page.status === 302 ? page.location! : await consent(page.html, 'allow');
    cb = await callback(redirect, started.cookie);
  }
  expect(cb.location).toBe(`/uni_modules/wlu-wxlogin/pages/login/index?oa_login=${started.state}#`);
  const res = await takeSession(started.state, started.cookie);
  expect(res.status).toBe(200);
  return res.body as LoginBody;
}

const me = (token: string) => fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });

describe('official-account login, end to end', () => {
  it('start → authorize → 允许 → callback → handoff → a working session via oa', async () => {
    const started = await start({ next: '/pages/account/index', scope: 'snsapi_userinfo' });
    expect(`${started.location.origin}${started.location.pathname}`).toBe(`${stack.simUrl}/connect/oauth2/authorize`);
    expect(started.location.hash).toBe('#wechat_redirect');
    expect(Object.fromEntries(started.location.searchParams)).toEqual({
      appid: stack.oaAppid,
      redirect_uri: `${stack.apiUrl}/api/auth/oa/callback`,
      response_type: 'code',
      scope: 'snsapi_userinfo',
      state: started.state,
    });
    expect(started.state).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(started.setCookie).toMatch(/^wx_oa_state=[A-Za-z0-9]{32}; Max-Age=600; Path=\/api\/auth\/oa; HttpOnly; SameSite=Lax$/);

    const page = await authorize(started.location, 'oa-alice');
    expect(page.status).toBe(200);
    expect(page.html).toContain('允许');
    expect(page.html).toContain('拒绝');
    const redirect = new URL(await consent(page.html, 'allow'));
    expect(`${redirect.origin}${redirect.pathname}`).toBe(`${stack.apiUrl}/api/auth/oa/callback`);
    expect(redirect.searchParams.get('state')).toBe(started.state);

    const cb = await callback(redirect.toString(), started.cookie);
    expect(cb.status).toBe(302);
    expect(cb.location).toBe(`/uni_modules/wlu-wxlogin/pages/login/index?oa_login=${started.state}#`);
    const res = await takeSession(started.state, started.cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^wx_oa_state=; Max-Age=0; Path=\/api\/auth\/oa/);
    expect(res.body.isNewUser).toBe(true);
    expect(res.body.user).toMatchObject({ nickname: 'oa-alice', profileComplete: true }); // seeded by sns/userinfo

    const meRes = await me(res.body.token);
    expect(meRes.status).toBe(200);
    const sessions = (await (await fetch(`${stack.apiUrl}/api/auth/sessions`, { headers: { authorization: `Bearer ${res.body.token}` } })).json()) as {
      sessions: { via: string; current: boolean }[];
    };
    expect(sessions.sessions.find((s) => s.current)?.via).toBe('oa');

    // consent is remembered: the next snsapi_userinfo authorization is silent
    const again = await start({ scope: 'snsapi_userinfo' });
    expect((await authorize(again.location, 'oa-alice')).status).toBe(302);
  });

  it('snsapi_base is silent and logs a returning person into the same account', async () => {
    const first = await oaLogin('oa-returning');
    const calls = stack.sim.calls.get('sns_userinfo') ?? 0;
    const started = await start({ scope: 'snsapi_base' });
    expect(started.location.searchParams.get('scope')).toBe('snsapi_base');
    const page = await authorize(started.location, 'oa-returning');
    expect(page.status).toBe(302); // no consent page
    expect((await callback(page.location!, started.cookie)).location).toBe(`/uni_modules/wlu-wxlogin/pages/login/index?oa_login=${started.state}#`);
    const res = await takeSession(started.state, started.cookie);
    expect(res.body.user.id).toBe(first.user.id);
    expect(res.body.isNewUser).toBe(false);
    expect(stack.sim.calls.get('sns_userinfo') ?? 0).toBe(calls);
  });

  it('the default is silent snsapi_base; an unknown scope falls back to it', async () => {
    expect((await start()).location.searchParams.get('scope')).toBe('snsapi_base');
    expect((await start({ scope: 'snsapi_login' })).location.searchParams.get('scope')).toBe('snsapi_base');
  });
});

describe('three doors, one person (unionid)', () => {
  it('mini-program, website and official account are ONE user', async () => {
    const user = 'three-doors';
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });
    expect(mini.status).toBe(200);
    const oa = await oaLogin(user);
    expect(oa.user.id).toBe(mini.body.user.id);
    expect(oa.isNewUser).toBe(false);

    // the website QR login of the same person
    const qr = await fetch(`${stack.apiUrl}/api/auth/web/qr`, { redirect: 'manual' });
    const cookie = qr.headers.get('set-cookie')!.split(';')[0]!;
    const qrPage = await (await fetch(qr.headers.get('location')!)).text();
    const uuid = /data-uuid="([0-9a-f]+)"/.exec(qrPage)![1]!;
    await postJson(`${stack.simUrl}/__sim/web/scan`, { uuid, user });
    const confirmed = await postJson(`${stack.simUrl}/__sim/web/confirm`, { uuid });
    const cb = await callback(confirmed.body.redirectUrl, cookie);
    const state = new URL(cb.location, 'http://x').searchParams.get('web_login')!;
    const web = await postJson(`${stack.apiUrl}/api/auth/web/session`, { state }, { cookie });
    expect(web.body.user.id).toBe(mini.body.user.id);

    const openids = [stack.appid, stack.webAppid!, stack.oaAppid!].map((appid) => stack.sim.openid(appid, user));
    expect(new Set(openids).size).toBe(3);
  });

  it('official account first, then the mini-program: the same user', async () => {
    const oa = await oaLogin('oa-first');
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'oa-first') });
    expect(mini.body.user.id).toBe(oa.user.id);
    expect(mini.body.isNewUser).toBe(false);
  });
});

describe('silent first: snsapi_base recognises, snsapi_userinfo links (wechat-api-facts.md §5, §10)', () => {
  it('a person known from the mini-program who arrives silently never becomes a second, empty account', async () => {
    const user = 'silent-mini';
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });
    const identities = () => stack.services.store.accounts.listIdentities(mini.body.user.id);
    const before = (await identities()).length;

    // silent snsapi_base: no consent page, no unionid → an openid the server does not know
    const silent = await start();
    expect(silent.location.searchParams.get('scope')).toBe('snsapi_base');
    const page = await authorize(silent.location, user);
    expect(page.status).toBe(302);
    const cb = await callback(page.location!, silent.cookie);
    expect(errorOf(cb.location)).toBe('oa_login_consent_required');
    expect(cb.location.endsWith('#')).toBe(true);
    const oaOpenidKey = `oid:${stack.oaAppid}:${stack.sim.openid(stack.oaAppid!, user)}`;
    expect(await stack.services.store.accounts.getIdentity(oaOpenidKey)).toBeNull(); // nothing was created
    expect((await takeSession(silent.state, silent.cookie)).status).toBe(400);

    // the tap on 微信授权登录: snsapi_userinfo carries the unionid → the mini-program's account
    const res = await oaLogin(user, 'snsapi_userinfo');
    expect(res.user.id).toBe(mini.body.user.id);
    expect(res.isNewUser).toBe(false);
    expect((await identities()).length).toBe(before + 1);

    // from now on the silent door recognises the person
    const again = await oaLogin(user, 'snsapi_base');
    expect(again.user.id).toBe(mini.body.user.id);
  });

  it('the consent-required return keeps `next` for the snsapi_userinfo attempt', async () => {
    const started = await start({ next: '/uni_modules/wlu-wxlogin/pages/profile/index' });
    const page = await authorize(started.location, 'silent-next');
    const cb = await callback(page.location!, started.cookie);
    const url = new URL(cb.location, 'http://h5.example');
    expect(url.searchParams.get('oa_login_error')).toBe('oa_login_consent_required');
    expect(url.searchParams.get('next')).toBe('/uni_modules/wlu-wxlogin/pages/profile/index');
  });

  it('oa_login_consent_required is a stable code with a Chinese message pointing at the button', async () => {
    const { ERROR_CODES } = await import('../shared/errors.js');
    expect(ERROR_CODES.oa_login_consent_required.message).toContain('微信授权登录');
  });
});

describe('snapshot-page users (快照页, wechat-api-facts.md §5)', () => {
  it('the simulator hands out a virtual openid with is_snapshotuser: 1 and virtual profile data', async () => {
    const oa = stack.sim.apps.get(stack.oaAppid!)!;
    await postJson(`${stack.simUrl}/__sim/users/profile`, { user: 'snap-sim', snapshot: true });
    const params = { appid: oa.appid, redirect_uri: 'http://127.0.0.1/cb', response_type: 'code', scope: 'snsapi_userinfo', state: 'x1', sim_user: 'snap-sim' };
    const res = await fetch(`${stack.simUrl}/connect/oauth2/authorize?${new URLSearchParams(params)}`, { redirect: 'manual', headers: { 'user-agent': WECHAT_UA } });
    expect(res.status).toBe(302); // no consent page on a snapshot
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const token = JSON.parse(await (await fetch(`${stack.simUrl}/sns/oauth2/access_token?${new URLSearchParams({ appid: oa.appid, secret: oa.secret, code, grant_type: 'authorization_code' })}`)).text());
    expect(token.is_snapshotuser).toBe(1);
    expect(token.openid).not.toBe(stack.sim.openid(oa.appid, 'snap-sim'));
    expect(token.unionid).not.toBe(stack.sim.unionid(oa, 'snap-sim'));
    const info = JSON.parse(await (await fetch(`${stack.simUrl}/sns/userinfo?access_token=${token.access_token}&openid=${token.openid}`)).text());
    expect(info.nickname).toBe('微信用户');
  });

  it.each(['snsapi_base', 'snsapi_userinfo'] as const)('%s: the API creates or changes no account and answers oa_login_snapshot_user', async (scope) => {
    const user = `snap-${scope}`;
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });
    const before = await stack.services.store.accounts.listIdentities(mini.body.user.id);
    await postJson(`${stack.simUrl}/__sim/users/profile`, { user, snapshot: true });
    const started = await start({ scope });
    const page = await authorize(started.location, user);
    const cb = await callback(page.location!, started.cookie);
    expect(errorOf(cb.location)).toBe('oa_login_snapshot_user');
    expect(await stack.services.store.accounts.listIdentities(mini.body.user.id)).toEqual(before);
    expect((await stack.services.store.accounts.getUser(mini.body.user.id))!.nickname).toBeNull();
    const { ERROR_CODES } = await import('../shared/errors.js');
    expect(ERROR_CODES.oa_login_snapshot_user.message).toContain('使用完整服务');
    await postJson(`${stack.simUrl}/__sim/users/profile`, { user, snapshot: false });
  });
});

describe('a profile that stays empty after consent (issue 9 item 10)', () => {
  it('fills a missing nickname and avatar from sns/userinfo', async () => {
    const user = 'empty-profile';
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });
    expect(mini.body.user.nickname).toBeNull();
    const res = await oaLogin(user);
    expect(res.user.id).toBe(mini.body.user.id);
    expect(res.user.nickname).toBe(user);
    expect(res.user.avatarUrl).toMatch(/^https:\/\/thirdwx\.qlogo\.cn\//);
  });

  it('never overwrites what the person set: only the missing avatar is filled', async () => {
    const user = 'own-nickname';
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });
    const named = await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${mini.body.token}` }, body: JSON.stringify({ nickname: '我自己起的' }) });
    expect(named.status).toBe(200);
    const res = await oaLogin(user);
    expect(res.user.nickname).toBe('我自己起的');
    expect(res.user.avatarUrl).toMatch(/^https:\/\/thirdwx\.qlogo\.cn\//);
    // a complete profile: no sns/userinfo call at all
    const calls = stack.sim.calls.get('sns_userinfo') ?? 0;
    await oaLogin(user, 'snsapi_userinfo');
    expect(stack.sim.calls.get('sns_userinfo') ?? 0).toBe(calls);
  });

  it('a nickname with control characters (sent raw by WeChat) still seeds the profile', async () => {
    await postJson(`${stack.simUrl}/__sim/users/profile`, { user: 'ctl-oa', nickname: '小\u0001明\u0007' });
    const res = await oaLogin('ctl-oa');
    expect(res.isNewUser).toBe(true);
    expect(res.user.nickname).toBe('小明');
  });
});

describe('redirect_uri must be inside 网页授权域名 (wechat-api-facts.md §5, 10003)', () => {
  it('a redirect_uri on another domain gets WeChat\'s error page, no code', async () => {
    const res = await fetch(
      `${stack.simUrl}/connect/oauth2/authorize?${new URLSearchParams({ appid: stack.oaAppid!, redirect_uri: 'https://evil.example/cb', response_type: 'code', scope: 'snsapi_base', state: 'abc' })}`,
      { redirect: 'manual', headers: { 'user-agent': WECHAT_UA } },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('data-errcode="10003"');
    expect(html).toContain('redirect_uri 域名与后台配置不一致');
  });

  it('the API on a host the official account did not register ends on that error page too', async () => {
    const own = await startStack({ domains: ['h5.example.com'] });
    try {
      const started = await fetch(`${own.apiUrl}/api/auth/oa/start`, { redirect: 'manual' });
      const res = await fetch(started.headers.get('location')!, { redirect: 'manual', headers: { 'user-agent': WECHAT_UA } });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('data-errcode="10003"');
    } finally {
      await own.close();
    }
  });
});

describe('refusal, bad and replayed callbacks', () => {
  it('拒绝 on the consent page → oa_login_denied, 你已取消微信授权', async () => {
    const started = await start({ scope: 'snsapi_userinfo' });
    const page = await authorize(started.location, 'oa-refuser');
    const redirect = new URL(await consent(page.html, 'deny'));
    expect(redirect.searchParams.get('code')).toBeNull();
    expect(redirect.searchParams.get('state')).toBe(started.state);
    const cb = await callback(redirect.toString(), started.cookie);
    expect(errorOf(cb.location)).toBe('oa_login_denied');
    const { ERROR_CODES } = await import('../shared/errors.js');
    expect(ERROR_CODES.oa_login_denied.message).toBe('你已取消微信授权');
    // not remembered as consent: the next attempt asks again
    expect((await authorize((await start({ scope: 'snsapi_userinfo' })).location, 'oa-refuser')).status).toBe(200);
  });

  it('a state not bound to this browser is refused (login CSRF)', async () => {
    const victim = await start();
    const attacker = await start();
    const page = await authorize(attacker.location, 'oa-attacker', WECHAT_UA);
    const redirect = page.status === 302 ? page.location! : await consent(page.html, 'allow');
    expect(errorOf((await callback(redirect, victim.cookie)).location)).toBe('oa_login_state_invalid');
    expect(errorOf((await callback(redirect)).location)).toBe('oa_login_state_invalid');
  });

  it('a replayed callback and a second handoff are refused', async () => {
    await oaLogin('oa-replay');
    const started = await start({ scope: 'snsapi_base' });
    const page = await authorize(started.location, 'oa-replay');
    expect((await callback(page.location!, started.cookie)).location).toContain('oa_login=');
    expect(errorOf((await callback(page.location!, started.cookie)).location)).toBe('oa_login_state_used');
    expect((await takeSession(started.state)).body.error.code).toBe('oa_login_state_invalid');
    expect((await takeSession(started.state, started.cookie)).status).toBe(200);
    const twice = await takeSession(started.state, started.cookie);
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatchObject({ code: 'oa_login_state_used', message: '本次授权登录已完成或已失效，请重新授权' });
    // without the (now cleared) cookie a taken handoff still says "used", not "expired"
    expect((await takeSession(started.state)).body.error.code).toBe('oa_login_state_used');
  });

  it('without an official account the endpoints say oa_login_not_configured', async () => {
    const bare = await startStack({ oa: false });
    try {
      const res = await fetch(`${bare.apiUrl}/api/auth/oa/start`, { redirect: 'manual' });
      expect(res.headers.get('location')).toBe('/uni_modules/wlu-wxlogin/pages/login/index?oa_login_error=oa_login_not_configured#');
      const session = await postJson(`${bare.apiUrl}/api/auth/oa/session`, { state: 'A'.repeat(32) });
      expect(session.status).toBe(503);
      expect(session.body.error.code).toBe('oa_login_not_configured');
    } finally {
      await bare.close();
    }
  });
});

describe('the simulator is as strict as WeChat', () => {
  const good = () => ({ appid: stack.oaAppid!, redirect_uri: 'http://127.0.0.1/cb', response_type: 'code', scope: 'snsapi_base', state: 'abc123' });
  const open = (params: Record<string, string>, ua = WECHAT_UA) =>
    fetch(`${stack.simUrl}/connect/oauth2/authorize?${new URLSearchParams(params)}`, { redirect: 'manual', headers: { 'user-agent': ua } });

  it('outside the WeChat client: 请在微信客户端打开链接, no redirect', async () => {
    const res = await open(good(), 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36');
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('请在微信客户端打开链接');
  });

  it.each([
    ['the mini-program appid', { appid: 'MINI' }],
    ['the website appid', { appid: 'WEB' }],
    ['an unknown appid', { appid: 'wx0000000000000000' }],
    ['scope snsapi_login', { scope: 'snsapi_login' }],
    ['response_type other than code', { response_type: 'token' }],
    ['a state outside [A-Za-z0-9]', { state: 'a-b' }],
    ['a state over 128 characters', { state: 'a'.repeat(129) }],
    ['a missing redirect_uri', { redirect_uri: '' }],
  ])('refuses %s', async (_name, patch) => {
    const params = { ...good(), ...patch } as Record<string, string>;
    if (params.appid === 'MINI') params.appid = stack.appid;
    if (params.appid === 'WEB') params.appid = stack.webAppid!;
    const res = await open(params);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('该链接无法访问');
  });

  // wechat-api-facts.md §5: the authorize page shows the error, no code is issued
  it.each([
    ['an empty state', { state: '' }, 10013, 'state不能为空'],
    ['no state at all', { state: undefined }, 10013, 'state不能为空'],
    ['an empty scope', { scope: '' }, 10010, 'scope不能为空'],
    ['an empty redirect_uri', { redirect_uri: '' }, 10011, 'redirect_uri不能为空'],
    ['an empty appid', { appid: '' }, 10012, 'appid不能为空'],
  ])('refuses %s with WeChat\'s error code', async (_name, patch, errcode, text) => {
    const params = { ...good(), ...patch } as Record<string, string | undefined>;
    if (params.state === undefined) delete params.state;
    const res = await open(params as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('该链接无法访问');
    expect(html).toContain(`data-errcode="${errcode}"`);
    expect(html).toContain(text);
  });

  it('codes carry the requested scope; a snsapi_base token cannot read userinfo (48001)', async () => {
    const oa = stack.sim.apps.get(stack.oaAppid!)!;
    const code = new URL((await open({ ...good(), sim_user: 'dave' })).headers.get('location')!).searchParams.get('code')!;
    const exchange = async (c: string) =>
      JSON.parse(await (await fetch(`${stack.simUrl}/sns/oauth2/access_token?${new URLSearchParams({ appid: oa.appid, secret: oa.secret, code: c, grant_type: 'authorization_code' })}`)).text()) as Record<string, any>;
    const ok = await exchange(code);
    // wechat-api-facts.md §5 / §10: unionid "只有当scope为snsapi_userinfo时返回" — never with snsapi_base
    expect(ok).toMatchObject({ scope: 'snsapi_base', openid: stack.sim.openid(oa.appid, 'dave') });
    expect(ok).not.toHaveProperty('unionid');
    expect(stack.sim.unionid(oa, 'dave')).toBeTruthy(); // the open platform is bound: userinfo would carry it
    expect((await exchange(code)).errcode).toBe(40163);
    const info = JSON.parse(await (await fetch(`${stack.simUrl}/sns/userinfo?access_token=${ok.access_token}&openid=${ok.openid}`)).text());
    expect(info.errcode).toBe(48001);
  });
});

describe('secrets', () => {
  it('no WeChat access/refresh token, AppSecret, code or bearer token in any response or log line', async () => {
    const tokens = [(await oaLogin('oa-leak-1')).token, (await oaLogin('oa-leak-1', 'snsapi_base')).token];
    const wechatSecrets = stack.sim.web.issuedSecrets;
    expect(wechatSecrets.length).toBeGreaterThan(4);
    const responses = bodies.join('\n');
    for (const secret of [...wechatSecrets, stack.services.config.oa!.secret]) {
      expect(lines.find((l) => l.includes(secret))).toBeUndefined();
      expect(responses.includes(secret)).toBe(false);
    }
    for (const token of tokens) expect(lines.find((l) => l.includes(token))).toBeUndefined();
    expect(lines.some((l) => l.includes('auth.oa.login'))).toBe(true);
  });
});
