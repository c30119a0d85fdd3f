// Issue 20 §1 / design §3: the package's one factory, createWechatLogin(options) → handler, app,
// getSession, middleware, check, migrate, close, api. Everything here goes through the public entry
// (wlu-wxlogin-server, resolved to packages/server/src/index.ts by the test alias) as a host would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createWechatLogin, miniProgram, WechatLoginMisconfigured, type Session, type User, type WechatLogin, type WechatLoginOptions } from 'wlu-wxlogin-server';
import { startSim, type SimServer } from './support/sim-server.js';

let sim: SimServer;
const dirs: string[] = [];
const instances: WechatLogin[] = [];
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  for (const auth of instances) await auth.close();
  sim.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function options(more: Partial<WechatLoginOptions> = {}): WechatLoginOptions {
  const dataDir = mkdtempSync(join(tmpdir(), 'wx-factory-'));
  dirs.push(dataDir);
  return { doors: [miniProgram(sim.app)], wechat: { apiBase: sim.url, failover: [] }, dataDir, logLevel: 'error', ...more };
}
function make(more: Partial<WechatLoginOptions> = {}): WechatLogin {
  const auth = createWechatLogin(options(more));
  instances.push(auth);
  return auth;
}
async function login(auth: WechatLogin, user: string): Promise<{ token: string; user: User }> {
  const res = await auth.handler(new Request('http://host.test/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: await sim.code(user) }) }));
  expect(res.status).toBe(200);
  return (await res.json()) as { token: string; user: User };
}
const bearer = (token: string) => new Headers({ authorization: `Bearer ${token}` });

describe('createWechatLogin: the handler', () => {
  it('serves mini login → /api/auth/me → logout → /api/auth/me 401 as a Web handler (Request → Response)', async () => {
    const auth = make();
    const { token, user } = await login(auth, 'factory-handler');
    const me = await auth.handler(new Request('http://host.test/api/auth/me', { headers: bearer(token) }));
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: User }).user.id).toBe(user.id);
    const out = await auth.handler(new Request('http://host.test/api/auth/logout', { method: 'POST', headers: bearer(token) }));
    expect(out.status).toBeLessThan(300);
    const after = await auth.handler(new Request('http://host.test/api/auth/me', { headers: bearer(token) }));
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('misconfiguration never throws at construction: every request answers the JSON 503 server_misconfigured naming the problem', async () => {
    let auth!: WechatLogin;
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      expect(() => (auth = createWechatLogin(options({ environment: 'production', sealKeys: null })))).not.toThrow();
    } finally {
      console.error = original;
    }
    const res = await auth.handler(new Request('http://host.test/api/auth/health'));
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('server_misconfigured');
    expect(body.error.message).toContain('SESSION_KEY_ENCRYPTION_KEYS');
    expect(body.error.message).not.toContain(sim.app.secret);
    expect(auth.check().problems.join('\n')).toContain('SESSION_KEY_ENCRYPTION_KEYS');
    await expect(auth.getSession(new Headers())).rejects.toBeInstanceOf(WechatLoginMisconfigured);
    const host = new Hono().use('/orders', auth.middleware()).get('/orders', (c) => c.text('x'));
    expect((await host.request('/orders')).status).toBe(503);
    expect(errors.length).toBe(1);
  });

  it('check() is the configuration check: development with the simulator has production problems but starts', () => {
    const { problems, notes } = make().check();
    expect(problems.length).toBeGreaterThan(0);
    expect(Array.isArray(notes)).toBe(true);
  });
});

describe('getSession and middleware for the host\'s own routes', () => {
  it('getSession reads the Bearer token from a Request or from Headers; null without one or after logout', async () => {
    const auth = make();
    const { token, user } = await login(auth, 'factory-session');
    const fromHeaders = await auth.getSession(bearer(token));
    expect(fromHeaders?.user).toEqual(user);
    expect(fromHeaders?.session).toMatchObject({ userId: user.id, via: 'mini' });
    expect(fromHeaders?.session.id).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(fromHeaders)).not.toContain(token);
    const fromRequest = await auth.getSession(new Request('http://host.test/orders', { headers: bearer(token) }));
    expect(fromRequest?.user.id).toBe(user.id);
    expect(await auth.getSession(new Headers())).toBeNull();
    expect(await auth.getSession(bearer('a'.repeat(32)))).toBeNull();
    await auth.api.revokeAll(user.id);
    expect(await auth.getSession(bearer(token))).toBeNull();
  });

  it('middleware() answers the 401 envelope without a session and sets typed wxUser/wxSession with one', async () => {
    const auth = make();
    const { token, user } = await login(auth, 'factory-middleware');
    const host = new Hono()
      .use('/orders/*', auth.middleware())
      .get('/orders/mine', (c) => {
        expectTypeOf(c.var.wxUser).toEqualTypeOf<User>();
        expectTypeOf(c.var.wxSession).toEqualTypeOf<Session>();
        return c.json({ owner: c.var.wxUser.id, via: c.var.wxSession.via });
      });
    const anonymous = await host.request('/orders/mine');
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: { code: 'unauthorized', message: '登录已失效，请重新登录' } });
    const mine = await host.request('/orders/mine', { headers: bearer(token) });
    expect(await mine.json()).toEqual({ owner: user.id, via: 'mini' });
  });

  it('a Hono host mounts auth.app with app.route and keeps its own routes', async () => {
    const auth = make();
    const host = new Hono().get('/', (c) => c.text('host')).route('/', auth.app);
    expect(await (await host.request('/')).text()).toBe('host');
    expect((await host.request('/api/auth/health')).status).toBe(200);
  });

  it('api.deleteUser removes the account: its sessions end and the next login is a new user', async () => {
    const deleted: string[] = [];
    const auth = make({ hooks: { userDeleted: (id) => void deleted.push(id) } });
    const first = await login(auth, 'factory-delete');
    await auth.api.deleteUser(first.user.id);
    // the host's user table hears of it, as it does of 注销 through DELETE /me
    expect(deleted).toEqual([first.user.id]);
    expect(await auth.getSession(bearer(first.token))).toBeNull();
    const again = await login(auth, 'factory-delete');
    expect(again.user.id).not.toBe(first.user.id);
  });

  it('two instances share nothing: a token of one is unknown to the other', async () => {
    const a = make();
    const b = make();
    const { token } = await login(a, 'factory-two');
    expect(await a.getSession(bearer(token))).not.toBeNull();
    expect(await b.getSession(bearer(token))).toBeNull();
  });

  it('migrate() needs nothing on the embedded store; close() stops the instance cleanly', async () => {
    const auth = createWechatLogin(options());
    await expect(auth.migrate()).resolves.toBeUndefined();
    await expect(auth.close()).resolves.toBeUndefined();
  });
});
