// Issue 20 "Doors are data" (docs/design/issue-20-drop-in.md §5): a host LISTS door descriptors in
// ServerOptions.doors; routes, rate limits, the 405 table, failure log names, GET <basePath>/doors
// and the production checks come from the list. Several mini-programs of one open-platform account
// share users through unionid.
import { getRecord } from './support/records.js';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig, resolveConfig, type ServerOptions } from '../packages/server/src/config.js';
import { createLogger, silentLogger } from '../packages/server/src/log.js';
import { createServices, type Services } from '../packages/server/src/main.js';
import { doorsFromEnv } from '../api/_host.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { followToLogin, miniProgram, officialAccount, pcLogin, webviewTicket, websiteQr } from '../packages/server/src/doors/index.js';
import { createSimulator } from '../packages/sim/src/app.js';
import { cookieBrowser } from './support/cookie-browser.js';
import { simCodeAt } from './support/sim-server.js';
import { WECHAT_UA } from '../client/tests/support/browser.js';
import { followAsPhone } from './support/wechat-phone.js';

const MINI = { appid: 'wx00000000000d0a01', secret: randomBytes(16).toString('hex') };
const SHOP = { appid: 'wx00000000000d0a02', secret: randomBytes(16).toString('hex') };
const WEB = { appid: 'wx00000000000d0a03', secret: randomBytes(16).toString('hex') };
const OA = { appid: 'wx00000000000d0a04', secret: randomBytes(16).toString('hex') };

let sim: ReturnType<typeof createSimulator>;
let simServer: ServerType;
let simUrl: string;
const running: Services[] = [];

beforeAll(async () => {
  sim = createSimulator({
    apps: [
      { ...MINI, openPlatformId: 'op-doors' },
      { ...SHOP, openPlatformId: 'op-doors' },
      { ...WEB, openPlatformId: 'op-doors', kind: 'web', domains: ['localhost'] },
      { ...OA, openPlatformId: 'op-doors', kind: 'oa', domains: ['localhost'] },
    ],
  });
  await new Promise<void>((resolve) => {
    simServer = serve({ fetch: sim.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      simUrl = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
});
afterAll(() => simServer?.close());
afterEach(() => {
  for (const services of running.splice(0)) services.stop();
});

function start(more: Partial<ServerOptions> & Pick<ServerOptions, 'doors'>, logger = silentLogger): Services {
  const services = createServices({ wechat: { apiBase: simUrl, failover: [], openBase: simUrl, mpBase: simUrl }, rateLimit: { perAddress: 1_000_000, perAppid: 1_000_000 }, ...more }, { store: new EmbeddedStore({ dir: null }), logger });
  running.push(services);
  return services;
}

const simCode = (appid: string, user: string): Promise<string> => simCodeAt(simUrl, appid, user);

const post = async (services: Services, path: string, body: unknown) => {
  const res = await services.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

describe('several mini-programs of one open-platform account in one deployment', () => {
  it('the nickname check runs on the mini-program the person logged in through (its own app and openid)', async () => {
    const services = start({ doors: [miniProgram(MINI), miniProgram({ name: 'mini-shop', ...SHOP })] });
    // someone who only ever used the shop mini-program: no identity in the first listed app
    const shop = await post(services, '/api/auth/mini-shop/login', { code: await simCode(SHOP.appid, 'doors-nick-shop') });
    expect(shop.status).toBe(200);
    const patch = (nickname: string) =>
      services.app.request('/api/auth/me', { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.body.token}` }, body: JSON.stringify({ nickname }) });
    const risky = await patch('我是违禁词');
    expect(risky.status).toBe(400);
    expect(((await risky.json()) as { error: { code: string } }).error.code).toBe('content_risky');
    expect((await patch('小店主')).status).toBe(200);
  });

  it('each has its own routes and credentials; the same person is ONE user through unionid', async () => {
    const lines: string[] = [];
    const services = start({ doors: [miniProgram(MINI), miniProgram({ name: 'mini-shop', ...SHOP })] }, createLogger((line) => lines.push(line), 'info'));
    const main = await post(services, '/api/auth/mini/login', { code: await simCode(MINI.appid, 'doors-dora') });
    expect(main.status).toBe(200);
    const shop = await post(services, '/api/auth/mini-shop/login', { code: await simCode(SHOP.appid, 'doors-dora') });
    expect(shop.status).toBe(200);
    expect(shop.body.isNewUser).toBe(false);
    expect(shop.body.user.id).toBe(main.body.user.id);
    // each door's logins are logged under its own name
    expect(lines.filter((l) => l.includes('"auth.mini.login"'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('"auth.mini-shop.login"'))).toHaveLength(1);
    // one account, an identity per app (oid:<appid>:<openid>) plus the shared unionid
    const identities = await services.store.accounts.listIdentities(main.body.user.id);
    expect(identities.filter((i) => i.kind === 'oid').map((i) => i.appid).sort()).toEqual([MINI.appid, SHOP.appid].sort());
    // another person on the shop mini-program is another user
    const other = await post(services, '/api/auth/mini-shop/login', { code: await simCode(SHOP.appid, 'doors-otto') });
    expect(other.body.user.id).not.toBe(main.body.user.id);
    // a code of one mini-program is refused on the other's route: each route uses its own AppID
    const crossed = await post(services, '/api/auth/mini-shop/login', { code: await simCode(MINI.appid, 'doors-dora') });
    // WeChat answers 40029 (a code of another app): the server's "code invalid", with its Chinese message
    expect(crossed.status).toBe(401);
    expect(crossed.body.error.code).toBe('code_invalid');
    expect(crossed.body.error.message).toMatch(/[\u4e00-\u9fff]/);
  });

  it('the derived tables cover a named door: 405 with Allow, its per-address limit, its log names', async () => {
    const lines: string[] = [];
    const services = start({ doors: [miniProgram(MINI), miniProgram({ name: 'mini-shop', ...SHOP })], rateLimit: { perAddress: 2, perAppid: 1_000_000 } }, createLogger((line) => lines.push(line), 'debug'));
    const wrong = await services.app.request('/api/auth/mini-shop/login');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const bad = await post(services, '/api/auth/mini-shop/login', { code: 'short' });
    expect(bad.status).toBe(400);
    expect(lines.some((l) => l.includes('"auth.mini-shop.failed"'))).toBe(true);

    await post(services, '/api/auth/mini-shop/login', { code: 'short' });
    const third = await post(services, '/api/auth/mini-shop/login', { code: 'short' });
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBeTruthy();
  });

  it('a named mini-program binds the phone with its OWN app: <name>/phone; /me/phone uses the first listed', async () => {
    const services = start({ doors: [miniProgram(MINI), miniProgram({ name: 'mini-shop', ...SHOP })] });
    const shop = await post(services, '/api/auth/mini-shop/login', { code: await simCode(SHOP.appid, 'doors-phil') });
    const phoneCode = async () =>
      ((await (await fetch(`${simUrl}/__sim/mini/phone-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid: SHOP.appid, user: 'doors-phil', phone: '13912345678' }) })).json()) as { code: string }).code;
    const bind = (path: string, code: string) =>
      services.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${shop.body.token}` }, body: JSON.stringify({ code }) });
    // the shop's code through the first mini's token: WeChat refuses it
    const first = await bind('/api/auth/me/phone', await phoneCode());
    expect(first.status).toBe(400);
    expect(((await first.json()) as any).error.code).toBe('phone_code_invalid');
    const own = await bind('/api/auth/mini-shop/phone', await phoneCode());
    expect(own.status).toBe(200);
    expect(((await own.json()) as any).user.phoneMasked).toBe('139****5678');
    // a session carries the name of the mini door it came through
    const list = await services.app.request('/api/auth/sessions', { headers: { authorization: `Bearer ${shop.body.token}` } });
    expect(((await list.json()) as any).sessions[0].via).toBe('mini-shop');
  });

  it('webviewTicket({ from }) mints only from sessions of THAT mini door', async () => {
    const shopDoor = miniProgram({ name: 'mini-shop', ...SHOP });
    const services = start({ doors: [miniProgram(MINI), shopDoor, webviewTicket({ from: shopDoor })] });
    const mint = async (token: string) => services.app.request('/api/auth/webview/ticket', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const main = await post(services, '/api/auth/mini/login', { code: await simCode(MINI.appid, 'doors-vera') });
    const refused = await mint(main.body.token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe('webview_ticket_mini_only');
    const shop = await post(services, '/api/auth/mini-shop/login', { code: await simCode(SHOP.appid, 'doors-vera') });
    const minted = await mint(shop.body.token);
    expect(minted.status).toBe(200);
    const { ticket } = (await minted.json()) as { ticket: string };
    const exchanged = await post(services, '/api/auth/webview/session', { ticket });
    expect(exchanged.status).toBe(200);
    expect(exchanged.body.user.id).toBe(shop.body.user.id);
  });

  it('a webview request is charged once against the per-address limit (its door\'s class, nothing else)', async () => {
    const mini = miniProgram(MINI);
    const services = start({ doors: [mini, webviewTicket({ from: mini })], rateLimit: { perAddress: 2, perAppid: 1_000_000 } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(services, '/api/auth/webview/session', { ticket: 'a'.repeat(32) })).status);
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('a name that cannot be a path segment, or one listed twice, is refused', () => {
    expect(() => miniProgram({ name: 'Shop/1', ...SHOP })).toThrow(/name "Shop\/1"/);
    for (const label of ['web-qr', 'oa', 'pc-qr', 'webview']) expect(() => miniProgram({ name: label, ...SHOP }), label).toThrow(/another door's session label/);
    const { problems } = checkConfig(resolveConfig({ doors: [miniProgram(MINI), miniProgram(SHOP)] }));
    expect(problems.join('\n')).toContain('doors: "mini" is listed twice');
    expect(checkConfig(resolveConfig({ doors: [] })).problems.join('\n')).toContain('doors: no login door is listed');
  });
});

describe('GET <basePath>/doors', () => {
  it('names the configured doors and their public AppIDs, never a secret', async () => {
    const mini = miniProgram(MINI);
    const oa = officialAccount({ ...OA, push: { token: 'doorsToken1' } });
    const services = start({ doors: [mini, miniProgram({ name: 'mini-shop', ...SHOP }), websiteQr(WEB), oa, pcLogin({ via: oa }), followToLogin({ via: oa }), webviewTicket({ from: mini })] });
    const res = await services.app.request('/api/auth/doors');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      doors: [
        { name: 'mini', kind: 'mini', appid: MINI.appid },
        { name: 'mini-shop', kind: 'mini', appid: SHOP.appid },
        { name: 'web', kind: 'web', appid: WEB.appid },
        { name: 'oa', kind: 'oa', appid: OA.appid },
        { name: 'pc', kind: 'pc', via: 'oa' },
        { name: 'follow', kind: 'follow', via: 'oa' },
        { name: 'webview', kind: 'webview', from: 'mini' },
      ],
    });
    for (const secret of [MINI.secret, SHOP.secret, WEB.secret, OA.secret, 'doorsToken1']) expect(text).not.toContain(secret);
  });

  it('server-URL settings that cannot work (development) offer no follow-to-login: not in the list, and the PC gets our own QR', async () => {
    const lines: string[] = [];
    const logger = { log: (_level: string, event: string) => void lines.push(event) };
    const oa = officialAccount({ ...OA, push: { token: 'bad token!' } });
    const services = start({ doors: [miniProgram(MINI), oa, pcLogin({ via: oa }), followToLogin({ via: oa })] }, logger);
    const { doors } = (await (await services.app.request('/api/auth/doors')).json()) as { doors: { name: string }[] };
    expect(doors.map((d) => d.name)).toEqual(['mini', 'oa', 'pc']);
    const attempt = await post(services, '/api/auth/pc/attempt', { form: 'follow' });
    expect(attempt.body).toMatchObject({ form: 'own-qr', status: 'waiting' });
    // and the push endpoint is off, said once in the log
    expect(lines.filter((e) => e === 'oa.push.misconfigured')).toEqual(['oa.push.misconfigured']);
  });

  it('a door listed without its app is not offered, and its endpoints say it is not configured', async () => {
    const services = start({ doors: [miniProgram(MINI), websiteQr({ appid: '', secret: '' })] });
    const { doors } = (await (await services.app.request('/api/auth/doors')).json()) as { doors: { name: string }[] };
    expect(doors.map((d) => d.name)).toEqual(['mini']);
    const qr = await services.app.request('/api/auth/web/qr', { redirect: 'manual' });
    expect(new URL(qr.headers.get('location')!, 'http://h5').searchParams.get('web_login_error')).toBe('web_login_not_configured');
    // a door not listed at all has no routes
    expect((await services.app.request('/api/auth/oa/start')).status).toBe(404);
    expect((await services.app.request('/api/auth/pc/attempt', { method: 'POST' })).status).toBe(404);
  });
});

describe('optionsFromEnv builds the descriptors from today\'s variables', () => {
  it('mini, web, oa, pc and webview always; follow only with the account\'s Token', () => {
    const shape = (doors: ServerOptions['doors']) => doors.map((d) => `${d.kind}:${d.name}:${d.app?.appid ?? '-'}`);
    expect(shape(doorsFromEnv({ WECHAT_MINI_APPID: MINI.appid, WECHAT_MINI_SECRET: MINI.secret }))).toEqual([`mini:mini:${MINI.appid}`, 'web:web:-', 'oa:oa:-', 'pc:pc:-', `webview:webview:${MINI.appid}`]);
    const full = doorsFromEnv({ WECHAT_MINI_APPID: MINI.appid, WECHAT_OA_APPID: OA.appid, WECHAT_OA_SECRET: OA.secret, WECHAT_OA_TOKEN: 'tok123', WECHAT_WEB_APPID: WEB.appid });
    expect(shape(full)).toEqual([`mini:mini:${MINI.appid}`, `web:web:${WEB.appid}`, `oa:oa:${OA.appid}`, `pc:pc:${OA.appid}`, `follow:follow:${OA.appid}`, `webview:webview:${MINI.appid}`]);
    // the problems still name the variables (doctor, the production guard)
    const { problems } = checkConfig(resolveConfig({ doors: full, environment: 'production' }));
    expect(problems.join('\n')).toContain('WECHAT_MINI_SECRET is missing or not a 32-character AppSecret');
    expect(problems.join('\n')).toContain('WECHAT_WEB_APPID is set but WECHAT_WEB_SECRET is missing');
  });
});

describe('the official account door in the flow (issue 20 "Also in this change")', () => {
  /** a phone whose requests to the API go to `services` and to WeChat go to the simulator */
  const phoneFor = (services: Services) => cookieBrowser(WECHAT_UA, (req) => (req.url.startsWith(simUrl) ? fetch(req) : services.app.request(req)));

  async function oaLogin(services: Services, user: string) {
    const phone = phoneFor(services);
    const started = await phone.request('http://localhost/api/auth/oa/start?scope=snsapi_userinfo');
    const state = new URL(started.headers.get('location')!).searchParams.get('state')!;
    await followAsPhone(phone.request, started.headers.get('location')!, { simUrl, base: 'http://localhost', user });
    const session = await phone.request('http://localhost/api/auth/oa/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state }) });
    expect(session.status).toBe(200);
    return ((await session.json()) as { token: string }).token;
  }
  const sync = async (services: Services, token: string) => (await services.app.request('/api/auth/me/wechat-profile', { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json();

  it('keepGrant (default): 同步微信头像昵称 works after the login; keepGrant: false keeps nothing', async () => {
    const keeping = start({ doors: [miniProgram(MINI), officialAccount(OA)] });
    const token = await oaLogin(keeping, 'doors-grant-yes');
    expect(await sync(keeping, token)).toMatchObject({ user: { nickname: expect.any(String) } });
    // the grant record's key, as the "nothing kept" check below reads it: the keeping instance has one there
    expect(await getRecord(keeping.store, `wechat-grant:${OA.appid}:${sim.state.openid(OA.appid, 'doors-grant-yes')}`)).not.toBeNull();

    const dropping = start({ doors: [miniProgram(MINI), officialAccount({ ...OA, keepGrant: false })] });
    const other = await oaLogin(dropping, 'doors-grant-no');
    expect(await sync(dropping, other)).toMatchObject({ error: { code: 'wechat_reauthorize_required' } });
    expect((await getRecord(dropping.store, `wechat-grant:${OA.appid}:${sim.state.openid(OA.appid, 'doors-grant-no')}`))).toBeNull();
  });

  it('the PC attempt id rides in the phone\'s state record, not in its `next`', async () => {
    const oa = officialAccount(OA);
    const services = start({ doors: [miniProgram(MINI), oa, pcLogin({ via: oa })] });
    const pc = cookieBrowser(null, (req) => services.app.request(req));
    const { scanUrl } = (await (await pc.request('http://localhost/api/auth/pc/attempt', { method: 'POST' })).json()) as { scanUrl: string };
    const attemptId = new URL(scanUrl).searchParams.get('a')!;
    const phone = phoneFor(services);
    const scanned = await phone.request(scanUrl);
    const state = new URL(scanned.headers.get('location')!).searchParams.get('state')!;
    const record = await getRecord(services.store, `pc-login:${createHash('sha256').update(state).digest('hex')}`);
    expect(record?.value).toMatchObject({ attemptId, next: '/pages/account/index' });
    expect(JSON.stringify(record?.value.next)).not.toContain(attemptId);
    // and the phone still reaches the confirmation page of that attempt
    const page = await followAsPhone(phone.request, scanned.headers.get('location')!, { simUrl, base: 'http://localhost', user: 'doors-pc' });
    expect(page.html).toContain('确认在电脑上登录？');
  });

  it('the PC login\'s cookies live as long as the attempt on the server\'s clock, not the machine\'s', async () => {
    const oa = officialAccount(OA);
    const behind = () => new Date(Date.now() - 24 * 60 * 60 * 1000); // a server clock a day behind the machine
    const services = createServices(
      { doors: [miniProgram(MINI), oa, pcLogin({ via: oa })], wechat: { apiBase: simUrl, failover: [], openBase: simUrl, mpBase: simUrl }, rateLimit: { perAddress: 1_000_000, perAppid: 1_000_000 } },
      { store: new EmbeddedStore({ dir: null }), logger: silentLogger, clock: behind },
    );
    running.push(services);
    const pc = cookieBrowser(null, (req) => services.app.request(req));
    const created = await pc.request('http://localhost/api/auth/pc/attempt', { method: 'POST' });
    // the attempt's 180 s (the default) + 60 s to collect the session, as with the machine's clock
    expect(created.headers.getSetCookie().join('\n')).toMatch(/Max-Age=240\b/);
    const { scanUrl } = (await created.json()) as { scanUrl: string };
    const phone = phoneFor(services);
    const scanned = await phone.request(scanUrl);
    const page = await followAsPhone(phone.request, scanned.headers.get('location')!, { simUrl, base: 'http://localhost', user: 'doors-pc-clock' });
    expect(page.html).toContain('确认在电脑上登录？');
  });
});
