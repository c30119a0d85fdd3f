// Issue 20 §4: "Add Next.js route handlers if its build works offline here." It does: a Next.js App
// Router host installs next + react (npm's cache first, the registry otherwise: --prefer-offline) and
// the server package from its `npm pack` tarball, runs `next build` (offline) and `next start`, and
// serves mini login → /me → logout → 401 with a route of its own protected by getSession.
// An install that fails is a failure naming npm's error, not a skip.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../client/tests/support/browser.js';
import { loginJourney, startHostProcess } from './support/host-run.js';
import { installHost, packServer } from './support/pack.js';
import { startSim, type SimServer } from './support/sim-server.js';

export const NEXT_VERSION = '16.5.0';
/** the React next@16.5.0 installed with here */
const REACT_VERSION = '19.3.1';

/** The host's files (docs/INTEGRATE.md shows the same for Next.js), counted line by line. */
export const NEXT_HOST: Record<string, string> = {
  'lib/auth.mjs': `import { createWechatLogin, miniProgram } from 'wlu-wxlogin-server';
export const auth = createWechatLogin({ doors: [miniProgram({ appid: process.env.WX_APPID, secret: process.env.WX_SECRET })], wechat: { apiBase: process.env.WX_API_BASE } });
`,
  'app/api/auth/[...all]/route.js': `import { toNextJsHandler } from 'wlu-wxlogin-server/next';
import { auth } from '../../../../lib/auth.mjs';
export const { GET, POST, PUT, PATCH, DELETE } = toNextJsHandler(auth);
`,
  'app/orders/route.js': `import { auth } from '../../lib/auth.mjs';
export async function GET(request) { const s = await auth.getSession(request);
  return s ? Response.json({ owner: s.user.id }) : Response.json({ error: '请先登录' }, { status: 401 }); }
`,
};

let sim: SimServer;
let dir: string;
let host: ChildProcess | undefined;
let offline: { ok: boolean; why: string };
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wx-host-next-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'next-host', private: true, type: 'module', dependencies: { next: NEXT_VERSION, react: REACT_VERSION, 'react-dom': REACT_VERSION } }));
  const npm = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: dir, encoding: 'utf8' });
  offline = { ok: npm.status === 0, why: npm.stderr.split('\n').find((l) => l.includes('error')) ?? '' };
  if (!offline.ok) return;
  installHost(dir, await packServer(), [], { copy: true });
  // a layout is Next's own requirement for the app/ folder, not integration code
  mkdirSync(join(dir, 'app'), { recursive: true });
  writeFileSync(join(dir, 'app/layout.js'), 'export default function RootLayout({ children }) { return <html><body>{children}</body></html>; }\n');
  for (const [file, text] of Object.entries(NEXT_HOST)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  sim = await startSim();
}, 300_000);
afterAll(() => {
  host?.kill();
  sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Next.js (App Router) host from the npm pack tarball', () => {
  it('builds with next build and serves mini login → /me → logout → 401, /orders through getSession', async () => {
    expect(offline.ok, `npm install next@${NEXT_VERSION} failed: ${offline.why}`).toBe(true);
    const lines = Object.values(NEXT_HOST).reduce((n, text) => n + text.trimEnd().split('\n').length, 0);
    console.log(`Next.js host: ${lines} lines (${Object.keys(NEXT_HOST).join(', ')}) + Next's own app/layout.js`);
    expect(lines).toBeLessThanOrEqual(10);
    // docs/INTEGRATE.md shows these files verbatim, each under a comment naming it
    const doc = readFileSync('docs/INTEGRATE.md', 'utf8');
    for (const [file, text] of Object.entries(NEXT_HOST)) expect(doc, file).toContain(`// ${file}\n${text}`);
    const env = { NEXT_TELEMETRY_DISABLED: '1', HOME: process.env.HOME ?? dir };
    const build = spawnSync(process.execPath, ['node_modules/next/dist/bin/next', 'build'], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    const port = await freePort();
    writeFileSync(join(dir, 'start.mjs'), `process.argv.push('start', '-p', '${port}', '-H', '127.0.0.1'); await import('./node_modules/next/dist/bin/next');\n`);
    const started = await startHostProcess(dir, 'start.mjs', { ...env, WX_APPID: sim.app.appid, WX_SECRET: sim.app.secret, WX_API_BASE: sim.url });
    host = started.child;
    const { orders } = await loginJourney(`http://127.0.0.1:${port}`, await sim.code('next-host'));
    expect(orders).toEqual([401, 200, 200, 204, 401, 401]);
  }, 240_000);
});
