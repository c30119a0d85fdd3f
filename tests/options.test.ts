// Issue 20, migration step 4 "options in, env out" (docs/design/issue-20-drop-in.md §3, G3): the
// server is built from typed options (config.ts ServerOptions), secrets included; only the hosts
// read an environment (env.ts optionsFromEnv). A host that keeps its secrets elsewhere (a vault, its
// own settings file) builds the app without setting a single environment variable.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, type ServerOptions } from '../packages/server/src/config.js';
import { silentLogger } from '../packages/server/src/log.js';
import { createServices, type Services } from '../packages/server/src/main.js';
import { createSimulator } from '../packages/sim/src/app.js';
import { miniProgram } from '../packages/server/src/doors/index.js';

const APP_A = { appid: 'wx00000000000f0a01', secret: randomBytes(16).toString('hex') };
const APP_B = { appid: 'wx00000000000f0b01', secret: randomBytes(16).toString('hex') };

let sim: ReturnType<typeof createSimulator>;
let simServer: ServerType;
let simUrl: string;
const dirs: string[] = [];
const running: Services[] = [];

beforeAll(async () => {
  sim = createSimulator({ apps: [{ ...APP_A, openPlatformId: 'op-options' }, { ...APP_B, openPlatformId: 'op-options' }] });
  await new Promise<void>((resolve) => {
    simServer = serve({ fetch: sim.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      simUrl = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
});
afterAll(() => {
  simServer?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const services of running.splice(0)) services.stop();
});

/** Options a host writes itself: its own secrets, the simulator as WeChat, a data folder of its own. */
function options(app: { appid: string; secret: string }, more: Partial<ServerOptions> = {}): ServerOptions {
  const dataDir = mkdtempSync(join(tmpdir(), 'wx-options-'));
  dirs.push(dataDir);
  return { doors: [miniProgram({ ...app })], wechat: { apiBase: simUrl, failover: [] }, dataDir, ...more };
}

function start(opts: ServerOptions): Services {
  const services = createServices(opts, { logger: silentLogger });
  running.push(services);
  return services;
}

async function simCode(appid: string, user: string): Promise<string> {
  const res = await fetch(`${simUrl}/__sim/mini/code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid, user }) });
  return ((await res.json()) as { code: string }).code;
}

async function login(services: Services, code: string): Promise<{ status: number; body: any }> {
  const res = await services.app.request('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  return { status: res.status, body: await res.json() };
}

const me = (services: Services, token: string) => services.app.request('/api/auth/me', { headers: { authorization: `Bearer ${token}` } });

describe('the server from options alone (no environment variable)', () => {
  const saved: Record<string, string | undefined> = {};
  const CONFIG_VARS = /^(WECHAT_|MONGODB_|SESSION_KEY_|PUBLIC_BASE_URL$|DATA_DIR$|VERCEL|RATE_LIMIT_|CLIENT_ADDRESS_|APP_NAME$|LOG_LEVEL$)/;
  beforeEach(() => {
    for (const name of Object.keys(process.env).filter((n) => CONFIG_VARS.test(n))) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
    // Decoys: were the wiring still reading the environment, it would take these and the login below would fail.
    Object.assign(process.env, { WECHAT_MINI_APPID: 'wx00000000deadbeef', WECHAT_MINI_SECRET: 'f'.repeat(32), WECHAT_API_BASE: 'http://127.0.0.1:1', MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200' });
  });
  afterEach(() => {
    for (const name of Object.keys(process.env).filter((n) => CONFIG_VARS.test(n))) delete process.env[name];
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  });

  it('logs a user in against the simulator, and the token opens /api/auth/me', async () => {
    const services = start(options(APP_A));
    expect(services.config.mini.appid).toBe(APP_A.appid);
    expect(services.config.wechatBaseUrls).toEqual([simUrl]);
    expect(services.store.kind).toBe('embedded'); // MONGODB_URI (a decoy) was not read
    const res = await login(services, await simCode(APP_A.appid, 'options-alice'));
    expect(res.status).toBe(200);
    expect(res.body.isNewUser).toBe(true);
    const mine = await me(services, res.body.token);
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { user: { id: string } }).user.id).toBe(res.body.user.id);
  });

  it('the production guard judges the options, naming what is missing by its variable', () => {
    let error: unknown;
    try {
      start(options(APP_A, { environment: 'production' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('MONGODB_URI is not set');
    expect(message).toContain('SESSION_KEY_ENCRYPTION_KEYS is not set');
    expect(message).toContain(`WeChat API base "${simUrl}"`);
    expect(message).not.toContain(APP_A.secret);
  });
});

describe('two instances with different options in one process', () => {
  it('each runs on its own credentials and settings; neither sees the other', async () => {
    const shared = { rateLimit: { perAddress: 1_000_000, perAppid: 1_000_000 } };
    const a = start(options(APP_A, { ...shared, appName: '甲应用', mpVerify: ['AaaA1111'], requestDeadlineMs: 4000 }));
    const b = start(options(APP_B, { ...shared, appName: '乙应用', mpVerify: 'MP_verify_BbbB2222.txt' }));
    expect([a.config.mini.appid, b.config.mini.appid]).toEqual([APP_A.appid, APP_B.appid]);
    expect([a.config.appName, b.config.appName]).toEqual(['甲应用', '乙应用']);
    expect([a.config.requestDeadlineMs, b.config.requestDeadlineMs]).toEqual([4000, 9000]);

    // the mini-program's credentials: a code issued to B's mini-program is refused by A, and the other way round
    const codeB = await simCode(APP_B.appid, 'options-bob');
    expect((await login(a, codeB)).status).not.toBe(200);
    const onB = await login(b, await simCode(APP_B.appid, 'options-bob'));
    expect(onB.status).toBe(200);
    const onA = await login(a, await simCode(APP_A.appid, 'options-bob'));
    expect(onA.status).toBe(200);
    expect((await me(a, onB.body.token)).status).toBe(401);
    expect((await me(b, onA.body.token)).status).toBe(401);

    // settings served at the edge: each instance answers its own verification file only
    expect(await (await a.app.request('/MP_verify_AaaA1111.txt')).text()).toBe('AaaA1111');
    expect((await b.app.request('/MP_verify_AaaA1111.txt')).status).toBe(404);
    expect(await (await b.app.request('/MP_verify_BbbB2222.txt')).text()).toBe('BbbB2222');
    expect((await a.app.request('/MP_verify_BbbB2222.txt')).status).toBe(404);
  });

  it("an instance keeps the options it was built with: changing the host's object afterwards changes nothing", async () => {
    const verify = ['KeptK333'];
    const credentials = { ...APP_A };
    const doors = [miniProgram(credentials)];
    const opts = options(APP_A, { mpVerify: verify, doors });
    const a = start(opts);
    credentials.appid = APP_B.appid;
    credentials.secret = APP_B.secret;
    doors.push(miniProgram({ name: 'late', ...APP_B }));
    verify.push('LateL444');
    const b = start(options(APP_B));
    expect(a.config.mini).toEqual(APP_A);
    expect((await a.app.request('/MP_verify_LateL444.txt')).status).toBe(404);
    expect((await a.app.request('/api/auth/late/login', { method: 'POST' })).status).toBe(404);
    expect((await login(a, await simCode(APP_A.appid, 'options-carol'))).status).toBe(200);
    expect((await login(b, await simCode(APP_B.appid, 'options-carol'))).status).toBe(200);
  });
});
