// Issue 20 §1: "The package's public API is small and stable; internal modules are not importable
// (exports). Its dependencies are what it needs at run time." Checked on the `npm pack` tarball.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installHost, packServer, tarballFiles } from './support/pack.js';

/** the test MongoDB (tests/setup/global.ts); '' with SKIP_MONGO=1 */
const uri = inject('mongodbUri');
let tarball: string;
let files: string[];
let host: string;
beforeAll(async () => {
  tarball = await packServer();
  files = tarballFiles(tarball);
  host = mkdtempSync(join(tmpdir(), 'wx-pack-'));
  installHost(host, tarball, []);
}, 180_000);
afterAll(() => rmSync(host, { recursive: true, force: true }));

const pkg = () => JSON.parse(readFileSync(join(host, 'node_modules/wlu-wxlogin-server/package.json'), 'utf8'));

/** Runs an ES module in the host folder (Node's own resolution, not the test runner's); its stdout. */
function runInHost(code: string): string {
  const file = join(host, `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, code);
  return execFileSync(process.execPath, [file], { cwd: host, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }).trim();
}

describe('the server package tarball', () => {
  it('ships only dist, package.json and the readme', () => {
    expect(files.length).toBeGreaterThan(5);
    const stray = files.filter((f) => !f.startsWith('dist/') && !['package.json', 'readme.md'].includes(f));
    expect(stray).toEqual([]);
    expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  it('every exports target exists in the tarball', () => {
    const targets = Object.values(pkg().exports as Record<string, string | Record<string, string>>).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
    expect(targets.length).toBeGreaterThanOrEqual(11);
    for (const target of targets) expect(files, target).toContain(target.replace(/^\.\//, ''));
    expect(Object.keys(pkg().exports).sort()).toEqual(['.', './mongodb', './next', './node', './package.json', './vercel']);
  });

  it('each public entry loads in a bare host and exports what the readme shows', () => {
    const out = runInHost(`
      const main = await import('wlu-wxlogin-server');
      const node = await import('wlu-wxlogin-server/node');
      const next = await import('wlu-wxlogin-server/next');
      const vercel = await import('wlu-wxlogin-server/vercel');
      console.log(JSON.stringify([typeof main.createWechatLogin, typeof node.toNodeHandler, typeof node.fromNodeHeaders, typeof next.toNextJsHandler, typeof vercel.toVercel]));
    `);
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function', 'function', 'function']);
  });

  it('a deep import of dist or src throws ERR_PACKAGE_PATH_NOT_EXPORTED', () => {
    const out = runInHost(`
      const codes = [];
      for (const spec of ['wlu-wxlogin-server/dist/index.js', 'wlu-wxlogin-server/src/main.ts', 'wlu-wxlogin-server/dist/chunks/x.js']) {
        try { await import(spec); codes.push('loaded ' + spec); } catch (e) { codes.push(e.code); }
      }
      console.log(JSON.stringify(codes));
    `);
    expect(JSON.parse(out)).toEqual(['ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);
  });

  it('importing the package loads neither zod, the MongoDB driver, the QR code nor the XML parser (cold start)', () => {
    // Names only the libraries define: zod, the MongoDB driver, qrcode, fast-xml-parser.
    const LIBRARY_MARKERS = ['ZodError', 'MongoNetworkError', 'getPenaltyN1', 'OrderedObjParser'];
    // The static import graph from each entry: the files Node loads at import time.
    const dist = join(host, 'node_modules/wlu-wxlogin-server/dist');
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const text = readFileSync(join(dist, file), 'utf8');
      for (const m of text.matchAll(/(?:^|[;}\s])(?:import|export)\s*(?:[^'"();]*?\sfrom\s*)?["'](\.\.?\/[^"']+)["']/g)) visit(join(file, '..', m[1]!));
    };
    for (const entry of ['index.js', 'node.js', 'next.js', 'vercel.js']) visit(entry);
    const text = [...loaded].map((f) => readFileSync(join(dist, f), 'utf8')).join('\n');
    expect(loaded.size).toBeGreaterThan(2);
    for (const marker of LIBRARY_MARKERS) expect(text.includes(marker), marker).toBe(false);
    // …and they are in the package, loaded on first use
    const all = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dist, f.slice('dist/'.length)), 'utf8')).join('\n');
    for (const marker of LIBRARY_MARKERS) expect(all.includes(marker), marker).toBe(true);
  });

  it("a Hono host's own app composes the package's (bundled) hono: app.route() and middleware()", async () => {
    // The package bundles hono (cold start); the host's `hono` is another copy, its own import.
    const out = runInHost(`
      import { Hono } from 'hono';
      import { createWechatLogin, miniProgram } from 'wlu-wxlogin-server';
      const auth = createWechatLogin({ doors: [miniProgram({ appid: 'wx1234567890abcdef', secret: '0123456789abcdef0123456789abcdef' })] });
      const app = new Hono();
      app.route('/', auth.app);
      app.use('/orders', auth.middleware());
      app.get('/orders', (c) => c.json({ owner: c.get('wxUser').id }));
      app.get('/host', (c) => c.text('host route'));
      const call = async (path, init) => { const r = await app.request(path, init); return [r.status, (await r.text()).slice(0, 300)]; };
      console.log(JSON.stringify([
        await call('/api/auth/health'),
        await call('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":1}' }),
        await call('/api/auth/mini/login', { method: 'GET' }),
        await call('/orders'),
        await call('/host'),
        typeof auth.app.fetch === 'function' && auth.app !== app,
      ]));
      await auth.close();
    `);
    const [health, badBody, wrongMethod, orders, hostRoute, separate] = JSON.parse(out.split('\n').at(-1)!) as [[number, string], [number, string], [number, string], [number, string], [number, string], boolean];
    expect(health[0]).toBe(200);
    // the package's own error handler answers inside the host's app: status + stable code
    expect(badBody[0]).toBe(400);
    expect(JSON.parse(badBody[1]).error.code).toBe('invalid_request');
    expect(wrongMethod[0]).toBe(405);
    expect(orders[0]).toBe(401);
    expect(JSON.parse(orders[1]).error.code).toBe('unauthorized');
    expect(hostRoute).toEqual([200, 'host route']);
    expect(separate).toBe(true);
    // the host's hono is not what the package runs: no import of 'hono' is left in the package's dist
    const dist = join(host, 'node_modules/wlu-wxlogin-server/dist');
    const js = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dist, f.slice('dist/'.length)), 'utf8')).join('\n');
    expect(js).not.toMatch(/from\s*["']hono(\/[^"']*)?["']|import\(\s*["']hono/);
  });

  it.skipIf(!uri)('the bundled db-connections helper keeps a Vercel instance alive while MongoDB connections idle', () => {
    // @vercel/functions/db-connections is bundled (cold start); it must still find the request's
    // context the Vercel runtime sets on globalThis and register its wait.
    const out = runInHost(`
      process.env.VERCEL_URL = 'host.vercel.app';
      process.env.VERCEL_REGION = 'hkg1';
      const waited = [];
      globalThis[Symbol.for('@vercel/request-context')] = { get: () => ({ waitUntil: (p) => waited.push(p) }) };
      const { mongoStorage } = await import('wlu-wxlogin-server/mongodb');
      const storage = mongoStorage({ uri: ${JSON.stringify(uri)}, dbName: 'pack_vercel_pool' });
      await storage.ping();
      console.log(JSON.stringify({ waited: waited.length }));
      process.exit(0); // the process-wide client (and the helper's idle wait) would keep it running
    `);
    expect(JSON.parse(out.split('\n').at(-1)!).waited).toBeGreaterThan(0);
  });

  it('declares only run-time dependencies; mongodb, sharp and ip2region are optional peers', () => {
    expect(Object.keys(pkg().dependencies).sort()).toEqual(['@hono/node-server', '@vercel/functions', 'hono']);
    expect(pkg().peerDependenciesMeta).toEqual({ mongodb: { optional: true }, sharp: { optional: true }, ip2region: { optional: true } });
    expect(pkg().devDependencies).toBeUndefined();
    expect(pkg().engines.node).toBe('>=20.19');
  });
});
