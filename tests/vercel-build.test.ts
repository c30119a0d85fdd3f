import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getRequestListener } from '@hono/node-server';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * The deploy artifact: `.ci/run` runs `vercel build` before the tests. Locally, without a build,
 * these tests are skipped (run `npx vercel build --yes` first); in CI a missing build fails them.
 */
const output = join(process.cwd(), '.vercel/output');
const built = existsSync(join(output, 'functions'));
if (process.env.CI && !built) throw new Error('CI must run `vercel build` before the tests');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe.skipIf(!built)('the built Vercel output', () => {
  let stack: Stack | undefined;
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) server.close();
    await stack?.close();
  });

  /** Loads a built function's entry (as Vercel's runtime would) and serves it on a local port. */
  async function serveFunction(name: 'index' | 'avatar'): Promise<string> {
    Object.assign(process.env, {
      WECHAT_MINI_APPID: stack!.appid,
      WECHAT_MINI_SECRET: stack!.services.config.mini.secret,
      WECHAT_API_BASE: stack!.simUrl,
      WECHAT_API_FAILOVER: '',
      DATA_DIR: join(process.cwd(), `.data/vercel-test-${name}`),
      LOG_LEVEL: 'error',
    });
    const dir = join(output, `functions/api/${name}.func`);
    const mod = await import(pathToFileURL(join(dir, JSON.parse(readFileSync(join(dir, '.vc-config.json'), 'utf8')).handler)).href);
    expect(typeof mod.default.fetch).toBe('function');
    const server = createServer(getRequestListener(mod.default.fetch));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('contains three functions: api/index (logins, everything), api/avatar (uploads, with sharp) and api/confirm (the PC confirmation page, with the IP-region databases)', () => {
    const funcs = files(join(output, 'functions')).filter((f) => f.endsWith('.vc-config.json'));
    expect(funcs.map((f) => f.slice(output.length)).sort()).toEqual(['/functions/api/avatar.func/.vc-config.json', '/functions/api/confirm.func/.vc-config.json', '/functions/api/index.func/.vc-config.json']);
    for (const file of funcs) expect(JSON.parse(readFileSync(file, 'utf8')).maxDuration).toBeLessThanOrEqual(10);
  });

  it('keeps the login function under 2 MB unpacked, without sharp/libvips; the avatar function has them', () => {
    const index = files(join(output, 'functions/api/index.func'));
    const bytes = index.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(bytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(index.filter((f) => /\/node_modules\/(sharp|@img|ip2region)\//.test(f))).toEqual([]);
    expect(JSON.stringify(JSON.parse(readFileSync(join(output, 'functions/api/index.func/.vc-config.json'), 'utf8')).filePathMap ?? {})).not.toContain('ip2region');
    const avatar = files(join(output, 'functions/api/avatar.func'));
    expect(avatar.some((f) => /\/node_modules\/sharp\//.test(f))).toBe(true);
    expect(avatar.some((f) => /\/node_modules\/@img\/sharp-libvips/.test(f))).toBe(true);
  });

  it('ships the IP-region package and both its databases in api/confirm (vercel.json includeFiles: copied, or mapped for the upload)', () => {
    const dir = join(output, 'functions/api/confirm.func');
    const shipped = files(dir).map((f) => f.slice(dir.length + 1));
    const mapped = Object.keys(JSON.parse(readFileSync(join(dir, '.vc-config.json'), 'utf8')).filePathMap ?? {});
    expect(shipped).toContain('node_modules/ip2region/dist/lib/index.js');
    for (const db of ['node_modules/ip2region/data/ip2region.db', 'node_modules/ip2region/data/ipv6wry.db']) expect([...shipped, ...mapped]).toContain(db);
    expect(shipped.filter((f) => /node_modules\/(sharp|@img)\//.test(f))).toEqual([]);
  });

  it('routes POST /api/auth/me/avatar to api/avatar, /api/auth/pc/confirm to api/confirm and every other /api path to api/index', () => {
    // Vercel applies the generated routes in order; the first matching `dest` wins.
    const routes = (JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')).routes as { src?: string; dest?: string }[]).filter((r) => r.src && r.dest);
    const destination = (path: string) => routes.find((r) => new RegExp(r.src!).test(path))?.dest;
    expect(destination('/api/auth/me/avatar')).toBe('/api/avatar');
    expect(destination('/api/auth/pc/confirm')).toBe('/api/confirm');
    for (const path of ['/api/auth/pc/attempt', '/api/auth/pc/scan', '/api/auth/pc/session']) expect(destination(path), path).toBe('/api');
    for (const path of ['/api/auth/mini/login', '/api/auth/me', '/api/auth/avatars/0123456789abcdef0123456789abcdef.jpg', '/api/auth/me/phone', '/api/auth/health']) {
      expect(destination(path), path).toBe('/api');
    }
  });

  it('ships no simulator code in functions or static files', () => {
    const own = files(output).filter((f) => !f.includes('/node_modules/') && /\.(js|mjs|cjs|html|json)$/.test(f));
    expect(own.length).toBeGreaterThan(5);
    for (const file of own) {
      const text = readFileSync(file, 'utf8');
      expect(text.includes('__sim/') || text.includes('createSimulator') || text.includes('SimState'), file).toBe(false);
    }
  });

  it('serves a real login through the built function', async () => {
    stack ??= await startStack();
    const base = await serveFunction('index');
    const res = await postJson(`${base}/api/auth/mini/login`, { code: await simCode(stack, 'deployed') });
    expect(res.status).toBe(200);
    const me = await fetch(`${base}/api/auth/me`, { headers: { authorization: `Bearer ${res.body.token}` } });
    expect((await me.json()).user.id).toBe(res.body.user.id);
    const missing = await fetch(`${base}/api/nope`);
    expect(missing.status).toBe(404);
  });

  it('re-encodes an avatar upload through the built avatar function', async () => {
    stack ??= await startStack();
    const base = await serveFunction('avatar');
    const login = await postJson(`${base}/api/auth/mini/login`, { code: await simCode(stack, 'deployed-avatar') });
    expect(login.status).toBe(200);
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#3a7' } }).png().toBuffer();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'avatar');
    const res = await fetch(`${base}/api/auth/me/avatar`, { method: 'POST', body: form, headers: { authorization: `Bearer ${login.body.token}` } });
    expect(res.status).toBe(200);
    const { avatarUrl } = await res.json();
    const image = await fetch(`${base}${avatarUrl}`);
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).toBe(256);
  });
});
