// Issue 20 §4: a Vercel host nobody here wrote installs the server package from its `npm pack`
// tarball into an empty folder: one function for the login routes (toVercel) and one host function
// protected by getSession. Each function is loaded as Vercel's Node.js launcher loads it (the default
// export's fetch, tests/vercel-runtime.test.ts) and served on a local port, routed as vercel.json says.
// `vercel build` is not run on this folder: its dependencies are linked from the repository (no
// registry here), and the build traces only files inside the project; the repo's own functions
// prove the build (tests/vercel-build.test.ts).
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginJourney, startHostProcess } from './support/host-run.js';
import { installHost, packServer } from './support/pack.js';
import { startSim, type SimServer } from './support/sim-server.js';

/** The host's files (what docs/INTEGRATE.md shows for Vercel), counted line by line. */
export const VERCEL_HOST: Record<string, string> = {
  'lib/auth.mjs': `import { createWechatLogin, miniProgram } from 'wlu-wxlogin-server';
export const auth = createWechatLogin({ doors: [miniProgram({ appid: process.env.WX_APPID, secret: process.env.WX_SECRET })], wechat: { apiBase: process.env.WX_API_BASE } });
`,
  'api/auth.mjs': `import { toVercel } from 'wlu-wxlogin-server/vercel';
import { auth } from '../lib/auth.mjs';
export default toVercel(auth);
`,
  'api/orders.mjs': `import { auth } from '../lib/auth.mjs';
export default { fetch: async (req) => { const s = await auth.getSession(req);
  return s ? Response.json({ owner: s.user.id }) : Response.json({ error: '请先登录' }, { status: 401 }); } };
`,
  'vercel.json': `{ "rewrites": [{ "source": "/api/auth/(.*)", "destination": "/api/auth" }, { "source": "/orders", "destination": "/api/orders" }] }
`,
};

/** Not host code: serves the functions as Vercel would (default export's fetch; vercel.json's rewrites). */
const HARNESS = `import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { readFileSync } from 'node:fs';
const { rewrites } = JSON.parse(readFileSync('vercel.json', 'utf8'));
const functions = { '/api/auth': (await import('./api/auth.mjs')).default, '/api/orders': (await import('./api/orders.mjs')).default };
const listener = getRequestListener((request) => {
  const path = new URL(request.url).pathname;
  const rule = rewrites.find((r) => new RegExp('^' + r.source + '$').test(path));
  const fn = rule && functions[rule.destination];
  return fn ? fn.fetch(request) : new Response('not found', { status: 404 });
});
const server = createServer(listener).listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + server.address().port));
`;

let sim: SimServer;
let dir: string;
let host: ChildProcess | undefined;
let installedBy: string;
beforeAll(async () => {
  sim = await startSim();
  dir = mkdtempSync(join(tmpdir(), 'wx-host-vercel-'));
  installedBy = installHost(dir, await packServer(), ['@hono/node-server']);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'vercel-host', private: true, type: 'module' }));
  for (const [file, text] of Object.entries(VERCEL_HOST)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  writeFileSync(join(dir, 'serve-as-vercel.mjs'), HARNESS);
}, 180_000);
afterAll(() => {
  host?.kill();
  sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Vercel host from the npm pack tarball', () => {
  it('is at most 10 lines and serves mini login → /me → logout → 401, /orders through getSession', async () => {
    const lines = Object.values(VERCEL_HOST).reduce((n, text) => n + text.trimEnd().split('\n').length, 0);
    console.log(`Vercel host: ${lines} lines (${Object.keys(VERCEL_HOST).join(', ')}); package installed by ${installedBy}`);
    expect(lines).toBeLessThanOrEqual(10);
    const started = await startHostProcess(dir, 'serve-as-vercel.mjs', { WX_APPID: sim.app.appid, WX_SECRET: sim.app.secret, WX_API_BASE: sim.url });
    host = started.child;
    const { orders } = await loginJourney(started.url, await sim.code('vercel-host'));
    expect(orders).toEqual([401, 200, 200, 204, 401, 401]);
  });
});
