import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getRequestListener } from '@hono/node-server';
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
  let server: Server | undefined;
  afterAll(async () => {
    server?.close();
    await stack?.close();
  });

  it('contains exactly one function, api/index', () => {
    const funcs = files(join(output, 'functions')).filter((f) => f.endsWith('.vc-config.json'));
    expect(funcs.map((f) => f.slice(output.length))).toEqual(['/functions/api/index.func/.vc-config.json']);
    const config = JSON.parse(readFileSync(funcs[0]!, 'utf8'));
    expect(config.maxDuration).toBeLessThanOrEqual(10);
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
    stack = await startStack();
    Object.assign(process.env, {
      WECHAT_MINI_APPID: stack.appid,
      WECHAT_MINI_SECRET: stack.services.config.mini.secret,
      WECHAT_API_BASE: stack.simUrl,
      WECHAT_API_FAILOVER: '',
      DATA_DIR: join(process.cwd(), '.data/vercel-test'),
      LOG_LEVEL: 'error',
    });
    const entry = join(output, 'functions/api/index.func', JSON.parse(readFileSync(join(output, 'functions/api/index.func/.vc-config.json'), 'utf8')).handler);
    const mod = await import(pathToFileURL(entry).href);
    expect(typeof mod.default.fetch).toBe('function');
    server = createServer(getRequestListener(mod.default.fetch));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await postJson(`${base}/api/auth/mini/login`, { code: await simCode(stack, 'deployed') });
    expect(res.status).toBe(200);
    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${res.body.token}` } });
    expect((await me.json()).user.id).toBe(res.body.user.id);
    const missing = await fetch(`${base}/api/nope`);
    expect(missing.status).toBe(404);
  });
});
