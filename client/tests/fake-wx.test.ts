// The compiled-page harness's fake `wx` is as strict as WeChat: one test per rule it enforces.
// (If the fake were kinder than WeChat, the compiled-page tests could not see what breaks on a phone.)
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_API_BASE, ensureMpBuild } from './support/build';
import { WX_REQUEST_METHODS, createFakeWx, loadPage, runnableCopy, type FakeWx } from './support/mp';

let server: Server;
let apiUrl = '';
const received: { method: string; url: string; body: Buffer }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks) });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const fakeWx = () => createFakeWx({ apiUrl, login: async () => 'code' });
function call(fake: FakeWx, api: string, opts: Record<string, unknown> = {}): Promise<{ ok: boolean; res: any }> {
  return new Promise((resolve) => {
    fake.wx[api]({ ...opts, success: (res: unknown) => resolve({ ok: true, res }), fail: (res: unknown) => resolve({ ok: false, res }) });
  });
}

describe('wx.request', () => {
  it('Should refuse PATCH like WeChat (request:fail method is invalid) and send nothing', async () => {
    const fake = fakeWx();
    const before = received.length;
    const { ok, res } = await call(fake, 'request', { url: `${TEST_API_BASE}/api/auth/me`, method: 'PATCH', data: { nickname: 'x' } });
    expect(ok).toBe(false);
    expect(res.errMsg).toBe('request:fail method is invalid');
    expect(received.length).toBe(before);
  });

  it('Should send every method wx.request has', async () => {
    const fake = fakeWx();
    for (const method of WX_REQUEST_METHODS) {
      if (method === 'CONNECT') continue; // a proxy verb node:http does not send as a plain request
      const { ok } = await call(fake, 'request', { url: `${TEST_API_BASE}/api/x`, method });
      expect(ok, method).toBe(true);
      expect(received.at(-1)).toMatchObject({ method, url: '/api/x' });
    }
  });

  it('Should resolve only the API base the bundle was built with (no rewriting of every /api/ URL)', async () => {
    const fake = fakeWx();
    const other = await call(fake, 'request', { url: 'https://api.somewhere-else.example/api/auth/me' });
    expect(other).toMatchObject({ ok: false, res: { errMsg: 'request:fail url not in domain list' } });
    const local = await call(fake, 'request', { url: 'http://127.0.0.1:3000/api/auth/me' });
    expect(local.ok).toBe(false);
    const configured = await call(fake, 'request', { url: `${TEST_API_BASE}/api/auth/me?x=1` });
    expect(configured.ok).toBe(true);
    expect(received.at(-1)?.url).toBe('/api/auth/me?x=1');
  });
});

describe('wx.uploadFile', () => {
  it('Should send the actual file it is given, and fail for a path that does not exist', async () => {
    const fake = fakeWx();
    const bytes = Buffer.from('the exact bytes of this avatar \u0000\u0001\u0002');
    const path = fake.addTempFile(bytes);
    const { ok } = await call(fake, 'uploadFile', { url: `${TEST_API_BASE}/api/auth/me/avatar`, filePath: path, name: 'file' });
    expect(ok).toBe(true);
    expect(received.at(-1)!.body.includes(bytes)).toBe(true);

    const missing = await call(fake, 'uploadFile', { url: `${TEST_API_BASE}/api/auth/me/avatar`, filePath: 'wxfile://tmp_nothing.png', name: 'file' });
    expect(missing).toMatchObject({ ok: false, res: { errMsg: 'uploadFile:fail file not found' } });
  });
});

describe('storage', () => {
  it('Should store a copy, not a reference', () => {
    const fake = fakeWx();
    const value = { token: 'a', user: { nickname: '小明' } };
    fake.wx.setStorageSync('k', value);
    value.user.nickname = 'changed later';
    expect(fake.wx.getStorageSync('k')).toEqual({ token: 'a', user: { nickname: '小明' } });
    const read = fake.wx.getStorageSync('k');
    read.token = 'mutated';
    expect(fake.wx.getStorageSync('k').token).toBe('a');
  });
});

describe('checkSession', () => {
  it('Should fail when WeChat\'s login state has expired', async () => {
    const fake = fakeWx();
    expect((await call(fake, 'checkSession')).ok).toBe(true);
    fake.behaviour.checkSession = () => false;
    expect(await call(fake, 'checkSession')).toMatchObject({ ok: false, res: { errMsg: expect.stringContaining('checkSession:fail') } });
  });
});

describe('privacy-gated APIs (__usePrivacyCheck__)', () => {
  it('Should keep getUserProfile pending while no listener handles the consent', async () => {
    const fake = fakeWx();
    fake.behaviour.getUserProfile = (opts) => opts.success?.({ userInfo: { nickName: 'x' } });
    const settled = vi.fn();
    fake.wx.getUserProfile({ desc: 'x', success: settled, fail: settled });
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).not.toHaveBeenCalled();
    expect(fake.privacy.prompts).toEqual(['getUserProfile']);
  });

  it('Should fail with errno 104 after a refusal, and go on after agreement through the agree button', async () => {
    const fake = fakeWx();
    fake.behaviour.getUserProfile = (opts) => opts.success?.({ userInfo: { nickName: '小明' } });
    const answers: string[] = [];
    fake.wx.onNeedPrivacyAuthorization((resolve: (r: unknown) => void) => resolve({ event: answers.shift() }));

    answers.push('disagree');
    expect(await call(fake, 'getUserProfile', { desc: 'x' })).toMatchObject({ ok: false, res: { errno: 104 } });

    answers.push('agree'); // resolve('agree') without the agreePrivacyAuthorization button tap does not count
    expect(await call(fake, 'getUserProfile', { desc: 'x' })).toMatchObject({ ok: false, res: { errno: 104 } });

    fake.privacy.agreeButtonTapped = true;
    answers.push('agree');
    expect(await call(fake, 'getUserProfile', { desc: 'x' })).toMatchObject({ ok: true, res: { userInfo: { nickName: '小明' } } });
    // consent is kept: no more prompts
    const prompts = fake.privacy.prompts.length;
    expect((await call(fake, 'getUserProfile', { desc: 'x' })).ok).toBe(true);
    expect(fake.privacy.prompts.length).toBe(prompts);
    expect((await call(fake, 'getPrivacySetting')).res.needAuthorization).toBe(false);
  });
});

describe('navigation really navigates (compiled bundle)', () => {
  it('Should render the target page, follow app.json and the tabBar rules, and go back', async () => {
    const bundle = runnableCopy(await ensureMpBuild());
    try {
      const fake = fakeWx();
      const home = await loadPage(bundle.dir, 'pages/index/index', fake);
      const { app } = home;
      expect(app.routes()).toEqual(['pages/index/index']);

      expect(await call(fake, 'navigateTo', { url: '/uni_modules/wlu-wxlogin/pages/legal/index?doc=privacy' })).toMatchObject({ ok: true });
      expect(app.routes()).toEqual(['pages/index/index', 'uni_modules/wlu-wxlogin/pages/legal/index']);
      await vi.waitFor(() => expect(app.current().text()).toContain('隐私政策'));

      expect(await call(fake, 'navigateTo', { url: '/pages/nowhere/index' })).toMatchObject({ ok: false, res: { errMsg: expect.stringContaining('is not found') } });
      expect(await call(fake, 'navigateTo', { url: '/pages/account/index' })).toMatchObject({ ok: false, res: { errMsg: expect.stringContaining('tabbar') } });
      expect(await call(fake, 'switchTab', { url: '/uni_modules/wlu-wxlogin/pages/login/index' })).toMatchObject({ ok: false });
      expect(app.routes()).toEqual(['pages/index/index', 'uni_modules/wlu-wxlogin/pages/legal/index']);

      expect((await call(fake, 'navigateBack')).ok).toBe(true);
      expect(app.routes()).toEqual(['pages/index/index']);
      expect((await call(fake, 'navigateBack')).ok).toBe(false); // nothing below the first page

      expect((await call(fake, 'switchTab', { url: '/pages/account/index' })).ok).toBe(true);
      expect(app.routes()).toEqual(['pages/account/index']);
      await vi.waitFor(() => expect(app.current().text()).toContain('未登录'));
    } finally {
      bundle.remove();
    }
  });
});
