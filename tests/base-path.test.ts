import { randomBytes } from 'node:crypto';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../api/_host.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { silentLogger } from '../packages/server/src/log.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';
import { cookieBrowser } from './support/cookie-browser.js';
import { WECHAT_UA } from '../client/tests/support/browser.js';
import { followAsPhone } from './support/wechat-phone.js';

/**
 * The host mounts the handler under a base path of its choice (issue 20 §1): every route answers
 * under it and every URL the product builds — redirect_uri, the state cookies' path, the PC's scan
 * URL, the phone pages' links, the follow reply link, avatar paths, the H5 login page — follows it
 * and PUBLIC_BASE_URL. The same browser flows run at the default '/api/auth' and at '/auth'.
 */
const PC_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const TOKEN = 'basePath7';
const mini = { appid: 'wxd0c0ffee000000b1', secret: randomBytes(16).toString('hex') };
const web = { appid: 'wxd0c0ffee000000b2', secret: randomBytes(16).toString('hex') };
const oa = { appid: 'wxd0c0ffee000000b3', secret: randomBytes(16).toString('hex') };

let sim: Stack;
beforeAll(async () => {
  // the simulator (its own API at /api/auth is not used here)
  sim = await startStack({ web, oa, env: { WECHAT_MINI_APPID: mini.appid, WECHAT_MINI_SECRET: mini.secret } });
});
afterAll(() => sim?.close());

interface Api {
  url: string;
  base: string;
  services: Services;
  close(): void;
}

/** An API mounted at `basePath`, listening on its own port, PUBLIC_BASE_URL its own address. */
async function startApi(basePath: string | undefined, extra: { h5LoginPage?: string } = {}): Promise<Api> {
  let services!: Services;
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: (req) => services.app.fetch(req), port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  services = createServices(
    {
      ...optionsFromEnv({
        NODE_ENV: 'test',
        WECHAT_MINI_APPID: mini.appid,
        WECHAT_MINI_SECRET: mini.secret,
        WECHAT_WEB_APPID: web.appid,
        WECHAT_WEB_SECRET: web.secret,
        WECHAT_OA_APPID: oa.appid,
        WECHAT_OA_SECRET: oa.secret,
        WECHAT_OA_TOKEN: TOKEN,
        WECHAT_OA_MESSAGE_MODE: 'plain',
        WECHAT_API_BASE: sim.simUrl,
        WECHAT_API_FAILOVER: '',
        WECHAT_OPEN_BASE: sim.simUrl,
        WECHAT_MP_BASE: sim.simUrl,
        PUBLIC_BASE_URL: url,
        RATE_LIMIT_PER_ADDRESS: '1000000',
        RATE_LIMIT_PER_APPID: '1000000',
      }),
      ...(basePath === undefined ? {} : { basePath }),
      ...extra,
    },
    { store: new EmbeddedStore({ dir: null }), logger: silentLogger, notifyIntervalMs: 100 },
  );
  return {
    url,
    base: basePath ?? '/api/auth',
    services,
    close: () => {
      services.stop();
      server.close();
    },
  };
}

const cookieLine = (res: Response, name: string) => res.headers.getSetCookie().find((line) => line.startsWith(`${name}=`)) ?? '';

describe.each([
  ['the default base path', undefined],
  ['a host\'s own base path', '/auth'],
])('%s', (_, basePath) => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(basePath);
  });
  afterAll(() => api?.close());
  const at = (path: string) => `${api.url}${api.base}${path}`;

  it('answers under the base path only; health names its own ready URL', async () => {
    const health = await fetch(at('/health'));
    expect(health.status).toBe(200);
    expect(((await health.json()) as { ready: string }).ready).toBe(`${api.base}/ready`);
    expect((await fetch(at('/ready'))).status).toBe(200);
    const other = api.base === '/auth' ? '/api/auth' : '/auth';
    const elsewhere = await fetch(`${api.url}${other}/health`);
    expect(elsewhere.status).toBe(404);
    // a wrong method on a known path is still 405 under the base path
    const wrong = await fetch(at('/mini/login'));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('website QR: redirect_uri, the cookie path and the login page follow the base path', async () => {
    const browser = cookieBrowser(PC_UA);
    const started = await browser.request(at('/web/qr'));
    expect(started.status).toBe(302);
    const location = new URL(started.headers.get('location')!);
    expect(location.searchParams.get('redirect_uri')).toBe(at('/web/callback'));
    expect(cookieLine(started, 'wx_web_state')).toContain(`Path=${api.base}/web;`);
    const state = location.searchParams.get('state')!;
    // the phone scans and confirms on the simulator's QR page
    const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await fetch(location)).text())![1];
    expect((await postJson(`${sim.simUrl}/__sim/web/scan`, { uuid, user: 'bp-web' })).status).toBe(200);
    expect((await postJson(`${sim.simUrl}/__sim/web/confirm`, { uuid })).status).toBe(200);
    const polled = (await (await fetch(`${sim.simUrl}/connect/qrconnect/status/${uuid}`)).json()) as { redirectUrl: string };
    expect(polled.redirectUrl.startsWith(`${at('/web/callback')}?`)).toBe(true);
    const callback = await browser.request(polled.redirectUrl);
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe(`/uni_modules/wlu-wxlogin/pages/login/index?web_login=${state}#`);
    const session = await browser.request(at('/web/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state }) });
    expect(session.status).toBe(200);
    const { token } = (await session.json()) as { token: string };
    expect((await fetch(at('/me'), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    // WxLogin inside our page: the same redirect_uri
    const embed = await browser.request(at('/web/embed'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ selfRedirect: false }) });
    expect(((await embed.json()) as { redirectUri: string }).redirectUri).toBe(at('/web/callback'));
  });

  it('official-account OAuth: redirect_uri and cookie path follow the base path; errors go to the login page', async () => {
    const browser = cookieBrowser(WECHAT_UA);
    const started = await browser.request(at('/oa/start?scope=snsapi_userinfo'));
    const location = new URL(started.headers.get('location')!);
    expect(location.searchParams.get('redirect_uri')).toBe(at('/oa/callback'));
    expect(cookieLine(started, 'wx_oa_state')).toContain(`Path=${api.base}/oa;`);
    const state = location.searchParams.get('state')!;
    const landed = await followAsPhone(browser.request, location.toString(), { simUrl: sim.simUrl, user: 'bp-oa' }).catch(() => null);
    // the phone ends on the H5 login page (not served here): the last URL is the login page with the handoff
    expect(landed?.url).toBe(new URL(`/uni_modules/wlu-wxlogin/pages/login/index?oa_login=${state}#`, api.url).toString());
    const session = await browser.request(at('/oa/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state }) });
    expect(session.status).toBe(200);

    // a callback with a foreign state: back to the login page with the code
    const bad = await fetch(at('/oa/callback?code=abc&state=x'), { redirect: 'manual' });
    expect(bad.headers.get('location')).toBe('/uni_modules/wlu-wxlogin/pages/login/index?oa_login_error=oa_login_state_invalid#');
  });

  it('PC login by phone: scan URL, redirect_uri, confirmation page links and cookies follow the base path', async () => {
    const pc = cookieBrowser(PC_UA);
    const created = await pc.request(at('/pc/attempt'), { method: 'POST' });
    expect(cookieLine(created, 'wx_pc_attempt')).toContain(`Path=${api.base}/pc;`);
    const attempt = (await created.json()) as { scanUrl: string };
    const id = pc.jar.get(`${new URL(api.url).host}|wx_pc_attempt`)!.split('.')[0];
    expect(attempt.scanUrl).toBe(at(`/pc/scan?a=${id}`));

    const phone = cookieBrowser(WECHAT_UA);
    const scanned = await phone.request(attempt.scanUrl);
    const authorize = new URL(scanned.headers.get('location')!);
    expect(authorize.searchParams.get('redirect_uri')).toBe(at('/pc/callback'));
    expect(cookieLine(scanned, 'wx_pc_state')).toContain(`Path=${api.base}/pc;`);
    const page = await followAsPhone(phone.request, authorize.toString(), { simUrl: sim.simUrl, base: api.url, user: 'bp-pc' });
    expect(page.url).toBe(at('/pc/confirm'));
    expect(page.html).toContain('确认在电脑上登录？');
    expect(page.html).toContain(`action="${api.base}/pc/confirm"`);
    const nonce = /name="nonce" value="([^"]+)"/.exec(page.html)![1]!;
    const { match } = (await (await pc.request(at('/pc/status'))).json()) as { match: string };
    const decided = await phone.request(at('/pc/confirm'), { method: 'POST', body: new URLSearchParams({ nonce, pick: match }) });
    expect(await decided.text()).toContain('已确认');
    const session = await pc.request(at('/pc/session'), { method: 'POST' });
    expect(session.status).toBe(200);
  });

  it('follow-to-login: the server URL is <basePath>/oa/push and the reply link follows the base path', async () => {
    const registered = await postJson(`${sim.simUrl}/__sim/oa/server`, { appid: oa.appid, url: at('/oa/push'), token: TOKEN, mode: 'plain' });
    expect(registered.body).toEqual({ ok: true });
    const pc = cookieBrowser(PC_UA);
    await pc.request(at('/pc/attempt'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ form: 'follow' }) });
    const shown = (await (await pc.request(at('/pc/follow-qr'), { method: 'POST' })).json()) as { form: string; scanUrl: string };
    expect(shown.form).toBe('follow');
    const pushed = await postJson(`${sim.simUrl}/__sim/oa/scan`, { user: `bp-follow-${api.base.length}`, qr: shown.scanUrl });
    expect(pushed.body).toMatchObject({ delivered: true });
    const id = pc.jar.get(`${new URL(api.url).host}|wx_pc_attempt`)!.split('.')[0];
    expect(pushed.body.links).toEqual([at(`/pc/scan?a=${id}`)]);
  });

  it('uploaded avatars are served at <basePath>/avatars/ and accepted back in that spelling only', async () => {
    const login = await postJson(at('/mini/login'), { code: await simCode({ ...sim, appid: mini.appid }, 'bp-avatar') });
    expect(login.status).toBe(200);
    const auth = { authorization: `Bearer ${login.body.token}` };
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#08c' } }).png().toBuffer();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'a.png');
    const uploaded = await fetch(at('/me/avatar'), { method: 'POST', headers: auth, body: form });
    expect(uploaded.status).toBe(200);
    const { avatarUrl } = (await uploaded.json()) as { avatarUrl: string };
    expect(avatarUrl).toMatch(new RegExp(`^${api.base}/avatars/[0-9a-f]{32}\\.jpg$`));
    expect((await fetch(`${api.url}${avatarUrl}`)).status).toBe(200);
    const kept = await fetch(at('/me'), { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ avatarUrl: `${api.url}${avatarUrl}` }) });
    expect(kept.status).toBe(200);
    const other = api.base === '/auth' ? '/api/auth' : '/auth';
    const foreign = await fetch(at('/me'), { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ avatarUrl: avatarUrl.replace(api.base, other) }) });
    expect(foreign.status).toBe(400);
    // an avatar stored before the upgrade (/api/avatars/<id>.jpg) still shows: sent on to the base path
    const id = /([0-9a-f]{32})\.jpg$/.exec(avatarUrl)![1];
    const legacy = await fetch(`${api.url}/api/avatars/${id}.jpg`, { redirect: 'manual' });
    expect(legacy.status).toBe(308);
    expect(legacy.headers.get('location')).toBe(`${api.base}/avatars/${id}.jpg`);
    expect((await fetch(`${api.url}/api/avatars/${id}.jpg`)).headers.get('content-type')).toBe('image/jpeg');
  });
});

describe('h5LoginPage: where browsers return', () => {
  it('a hash-router host gets its own login page URL with the result', async () => {
    const api = await startApi('/auth', { h5LoginPage: '/#/pages/login/index?{query}' });
    try {
      const bad = await fetch(`${api.url}/auth/web/callback?code=abc&state=x`, { redirect: 'manual' });
      expect(bad.headers.get('location')).toBe('/#/pages/login/index?web_login_error=web_login_state_invalid');
    } finally {
      api.close();
    }
  });

  it('a base path or login page that cannot work is named by the checks', async () => {
    const { checkConfig, resolveConfig } = await import('../packages/server/src/config.js');
    const problems = checkConfig(resolveConfig({ doors: [], basePath: '/a b', h5LoginPage: '/pages/login' })).problems.join('\n');
    expect(problems).toContain('basePath "/a b"');
    expect(problems).toContain('h5LoginPage "/pages/login" must contain {query}');
  });
});
