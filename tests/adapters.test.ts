// Issue 20 §1 / design §7: one-line adapters — wlu-wxlogin-server/node (node:http, Express),
// /next (App Router route handlers) and /vercel — and Express with express.json() mounted before
// the handler (design R8): the body the parser already read is handed on, or a clear error names the fix.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWechatLogin, miniProgram, type WechatLogin } from 'wlu-wxlogin-server';
import { toNextJsHandler } from 'wlu-wxlogin-server/next';
import { fromNodeHeaders, toNodeHandler } from 'wlu-wxlogin-server/node';
import { toVercel } from 'wlu-wxlogin-server/vercel';
import { startSim, type SimServer } from './support/sim-server.js';

let sim: SimServer;
let auth: WechatLogin;
let dataDir: string;
const servers: Server[] = [];
beforeAll(async () => {
  sim = await startSim();
  dataDir = mkdtempSync(join(tmpdir(), 'wx-adapters-'));
  auth = createWechatLogin({ doors: [miniProgram(sim.app)], wechat: { apiBase: sim.url, failover: [] }, dataDir, logLevel: 'error' });
});
afterAll(async () => {
  for (const server of servers) server.close();
  await auth.close();
  sim.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function listen(listener: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * mini login → /me → logout → /me 401, against `base`; with `orders` the host mounted its own
 * /orders route (200 for the user, 401 after logout), without it /orders is not found (404).
 */
async function journey(base: string, user: string, { orders: hasOrders }: { orders: boolean }): Promise<void> {
  const res = await fetch(`${base}/api/auth/mini/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: await sim.code(user) }) });
  const login = (await res.json()) as { token: string; user: { id: string } };
  expect(res.status, JSON.stringify(login)).toBe(200);
  const headers = { authorization: `Bearer ${login.token}` };
  expect(((await (await fetch(`${base}/api/auth/me`, { headers })).json()) as { user: { id: string } }).user.id).toBe(login.user.id);
  const orders = await fetch(`${base}/orders`, { headers });
  if (hasOrders) {
    expect(orders.status).toBe(200);
    expect(await orders.json()).toEqual({ owner: login.user.id });
  } else expect(orders.status).toBe(404);
  expect((await fetch(`${base}/api/auth/logout`, { method: 'POST', headers })).status).toBeLessThan(300);
  expect((await fetch(`${base}/api/auth/me`, { headers })).status).toBe(401);
  expect((await fetch(`${base}/orders`, { headers })).status).toBe(hasOrders ? 401 : 404);
}

function ordersRoute(app: express.Express): void {
  app.get('/orders', async (req, res) => {
    const found = await auth.getSession(fromNodeHeaders(req.headers));
    if (!found) return void res.status(401).json({ error: 'login' });
    res.json({ owner: found.user.id });
  });
}

describe('wlu-wxlogin-server/node', () => {
  it('serves node:http with toNodeHandler(auth)', async () => {
    await journey(await listen(toNodeHandler(auth)), 'adapter-http', { orders: false });
  });

  it('serves Express with the handler mounted BEFORE express.json() (the documented order)', async () => {
    const app = express();
    app.all('/api/auth/*', toNodeHandler(auth));
    app.use(express.json());
    ordersRoute(app);
    await journey(await listen(app), 'adapter-express-first', { orders: true });
  });

  it('serves Express with express.json() mounted BEFORE the handler: the parsed JSON body is handed on', async () => {
    const app = express();
    app.use(express.json());
    app.all('/api/auth/*', toNodeHandler(auth));
    ordersRoute(app);
    await journey(await listen(app), 'adapter-express-after-json', { orders: true });
  });

  it('after express.raw()/express.text() the raw bytes are handed on; a body it cannot give back is a clear 503 naming the fix', async () => {
    const raw = express();
    raw.use(express.raw({ type: '*/*' }));
    raw.all('/api/auth/*', toNodeHandler(auth));
    await journey(await listen(raw), 'adapter-express-after-raw', { orders: false });

    // A parser that keeps an object the adapter cannot serialize back (here: a nested form object)
    const nested = express();
    nested.use(express.urlencoded({ extended: true }));
    nested.all('/api/auth/*', toNodeHandler(auth));
    const base = await listen(nested);
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      const res = await fetch(`${base}/api/auth/mini/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a[b]=1' });
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('server_misconfigured');
      expect(body.error.message).toContain('express.json() 之前');
    } finally {
      console.error = original;
    }
    expect(JSON.stringify(errors)).toContain('mount toNodeHandler(auth) first');
  });

  it('fromNodeHeaders keeps repeated headers', () => {
    const headers = fromNodeHeaders({ authorization: 'Bearer x', 'set-cookie': ['a=1', 'b=2'], 'x-none': undefined });
    expect(headers.get('authorization')).toBe('Bearer x');
    expect(headers.get('set-cookie')).toBe('a=1, b=2');
    expect(headers.has('x-none')).toBe(false);
  });
});

describe('wlu-wxlogin-server/next and /vercel', () => {
  it('toNextJsHandler gives GET/POST/PUT/PATCH/DELETE route functions over the same handler', async () => {
    const { GET, POST, PUT, PATCH, DELETE } = toNextJsHandler(auth);
    const res = await POST(new Request('http://next.test/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: await sim.code('adapter-next') }) }));
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const headers = { authorization: `Bearer ${token}` };
    expect((await GET(new Request('http://next.test/api/auth/me', { headers }))).status).toBe(200);
    const renamed = await PATCH(new Request('http://next.test/api/auth/me', { method: 'PATCH', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ nickname: '小明' }) }));
    expect(((await renamed.json()) as { user: { nickname: string } }).user.nickname).toBe('小明');
    expect((await PUT(new Request('http://next.test/api/auth/health', { method: 'PUT' }))).status).toBe(405);
    expect((await DELETE(new Request('http://next.test/api/auth/me', { method: 'DELETE', headers }))).status).toBeLessThan(300);
    expect((await GET(new Request('http://next.test/api/auth/me', { headers }))).status).toBe(401);
  });

  it('toVercel gives the { fetch } default export the Vercel Node.js runtime serves', async () => {
    const entry = toVercel(auth);
    expect(Object.keys(entry)).toEqual(['fetch']);
    expect((await entry.fetch(new Request('http://vercel.test/api/auth/health'))).status).toBe(200);
  });
});
