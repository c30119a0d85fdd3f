import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { simCode, startStack, type Stack } from './support/stack.js';

/**
 * Issue 12, tested through the BUILT Vercel output (`vercel build` → .vercel/output/config.json):
 * the routes Vercel's edge applies are read from the build, a request is walked through them the
 * way the Build Output API (v3) describes — header routes with `continue`, the filesystem, then
 * rewrites — and when they lead to the function, the built function itself answers. Route headers
 * are applied over the function's own (that is how the blanket no-store hid the avatars' cache).
 * Like tests/vercel-build.test.ts: skipped without a build locally, required in CI.
 */
const output = join(process.cwd(), '.vercel/output');
const built = existsSync(join(output, 'config.json'));
if (process.env.CI && !built) throw new Error('CI must run `vercel build` before the tests');

interface Route {
  src?: string;
  dest?: string;
  headers?: Record<string, string>;
  status?: number;
  continue?: boolean;
  handle?: string;
}

/** Where the edge sends `path`: a static file, the function, or a status — and which headers it adds. */
function resolveRoute(routes: Route[], path: string): { target: 'static' | 'function' | 'status'; file?: string; fn?: string; status?: number; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  const staticFile = (p: string) => {
    const file = join(output, 'static', p);
    return existsSync(file) && statSync(file).isFile() ? file : null;
  };
  for (const route of routes) {
    if (route.handle) {
      if (route.handle !== 'filesystem') break; // error/miss phases: not reached by a matched request
      const file = staticFile(path);
      if (file) return { target: 'static', file, headers };
      continue;
    }
    const match = new RegExp(route.src!).exec(path);
    if (!match) continue;
    Object.assign(headers, route.headers);
    if (route.status && !route.dest) return { target: 'status', status: route.status, headers };
    if (route.dest && !route.continue) {
      const dest = route.dest.replace(/\$(\d+)/g, (_, i) => match[Number(i)] ?? '');
      // A function: /api → functions/api/index.func, /api/avatar → functions/api/avatar.func
      const fnDir = dest === '/api' ? 'api/index' : dest.slice(1);
      if (/^api(\/[a-z]+)?$/.test(fnDir) && existsSync(join(output, 'functions', `${fnDir}.func`))) return { target: 'function', fn: fnDir, headers };
      const file = staticFile(dest);
      if (file) return { target: 'static', file, headers };
      return { target: 'status', status: 404, headers };
    }
  }
  return { target: 'status', status: 404, headers };
}

describe.skipIf(!built)('routes of the built Vercel output', () => {
  let routes: Route[];
  const fns = new Map<string, { fetch(req: Request): Promise<Response> | Response }>();
  /** A built function, loaded on first use (each is its own module, as each is its own Vercel function). */
  async function fn(name: string) {
    if (!fns.has(name)) {
      const dir = join(output, 'functions', `${name}.func`);
      const entry = join(dir, JSON.parse(readFileSync(join(dir, '.vc-config.json'), 'utf8')).handler);
      fns.set(name, (await import(pathToFileURL(entry).href)).default);
    }
    return fns.get(name)!;
  }
  let stack: Stack;
  const dataDir = join(process.cwd(), `.data/vercel-routes-${process.pid}`);

  /** One request through the edge routes and, when they say so, the built function (original URL kept, as on Vercel). */
  async function edge(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Buffer; target: string }> {
    const r = resolveRoute(routes, path);
    if (r.target === 'static') return { status: 200, headers: new Headers(r.headers), body: readFileSync(r.file!), target: `static:${r.file!.slice(output.length)}` };
    if (r.target === 'status') return { status: r.status!, headers: new Headers(r.headers), body: Buffer.alloc(0), target: 'status' };
    const res = await (await fn(r.fn!)).fetch(new Request(`https://login.example.cn${path}`, init));
    const headers = new Headers(res.headers);
    for (const [k, v] of Object.entries(r.headers)) headers.set(k, v);
    return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()), target: r.fn === 'api/index' ? 'function' : `function:${r.fn}` };
  }

  beforeAll(async () => {
    routes = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')).routes;
    stack = await startStack();
    Object.assign(process.env, {
      WECHAT_MINI_APPID: stack.appid,
      WECHAT_MINI_SECRET: stack.services.config.mini.secret,
      WECHAT_API_BASE: stack.simUrl,
      WECHAT_API_FAILOVER: '',
      WECHAT_MP_VERIFY: 'MP_verify_Ab12Cd34Ef56Gh78.txt',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'error',
      // Two functions (api/index, api/avatar) share state only through a database, as on Vercel.
      ...(inject('mongodbUri') ? { MONGODB_URI: inject('mongodbUri'), MONGODB_DB: `vercel_routes_${process.pid}` } : {}),
    });
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (inject('mongodbUri')) {
      const { MongoClient } = await import('mongodb');
      const admin = new MongoClient(inject('mongodbUri'), { serverSelectionTimeoutMS: 5000 });
      await admin.db(`vercel_routes_${process.pid}`).dropDatabase().catch(() => {});
      await admin.close();
    }
  });

  it('serves the phone\'s PC-login confirmation page from api/confirm (the function with the IP-region databases)', async () => {
    const res = await edge('/api/auth/pc/confirm');
    expect(res.target).toBe('function:api/confirm');
    // no phone cookie: the page says so, in Chinese, frame-protected
    expect(res.status).toBe(400);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.body.toString()).toContain('登录请求无效');
    expect((await edge('/api/auth/pc/attempt', { method: 'POST' })).target).toBe('function');
  });

  it("serves the official account's MP_verify file from configuration, not the SPA's index.html", async () => {
    const res = await edge('/MP_verify_Ab12Cd34Ef56Gh78.txt');
    expect(res.target).toBe('function');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.body.toString()).toBe('Ab12Cd34Ef56Gh78');
    // An unknown token is a 404, not index.html with 200 (which WeChat would take for the file).
    const unknown = await edge('/MP_verify_Zz99Zz99Zz99Zz99.txt');
    expect(unknown.status).toBe(404);
    expect(unknown.body.toString()).not.toContain('<html');
    // The SPA fallback still serves deep links.
    const deep = await edge('/pages/account/index');
    expect(deep.target).toBe('static:/static/index.html');
  });

  it.skipIf(!inject('mongodbUri'))("an avatar keeps its year-long cache header (uploaded through api/avatar); other API answers stay no-store", async () => {
    const code = await simCode(stack, 'routes-avatar');
    const res = await edge('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { token } = JSON.parse(res.body.toString());
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#08c' } }).png().toBuffer();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'avatar.png');
    const uploaded = await edge('/api/auth/me/avatar', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    expect(uploaded.target).toBe('function:api/avatar');
    expect(uploaded.status).toBe(200);
    const avatarPath = new URL(JSON.parse(uploaded.body.toString()).avatarUrl, 'https://login.example.cn').pathname;
    expect(avatarPath).toMatch(/^\/api\/auth\/avatars\/[0-9a-f]{32}\.jpg$/);

    const avatar = await edge(avatarPath);
    expect(avatar.target).toBe('function');
    expect(avatar.status).toBe(200);
    expect(avatar.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const me = await edge('/api/auth/me', { headers: { authorization: `Bearer ${token}` } });
    expect(me.headers.get('cache-control')).toBe('no-store');
    const missing = await edge('/api/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('no-store');
  });
});
