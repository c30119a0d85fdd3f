// Issue 20 §4 "Proof on hosts nobody here wrote": an Express app in the shape of the seeds (an
// Express backend with express.json() and its own routes) installs the server package from its
// `npm pack` tarball into an empty folder and serves mini login → /api/auth/me → logout → 401
// against the simulator, with a host route protected by getSession. Goal: ≤ 10 host lines.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostProcess, loginJourney } from './support/host-run.js';
import { installHost, packServer } from './support/pack.js';
import { startSim, type SimServer } from './support/sim-server.js';

/** The whole host: what docs/INTEGRATE.md and the package readme show for Express. */
export const EXPRESS_HOST = `import express from 'express';
import { createWechatLogin, miniProgram } from 'wlu-wxlogin-server';
import { fromNodeHeaders, toNodeHandler } from 'wlu-wxlogin-server/node';
const auth = createWechatLogin({ doors: [miniProgram({ appid: process.env.WX_APPID, secret: process.env.WX_SECRET })], wechat: { apiBase: process.env.WX_API_BASE } });
const app = express();
app.all('/api/auth/*', toNodeHandler(auth)); // before express.json()
app.use(express.json());
app.get('/orders', async (req, res) => { const s = await auth.getSession(fromNodeHeaders(req.headers));
  s ? res.json({ owner: s.user.id }) : res.status(401).json({ error: '请先登录' }); });
const server = app.listen(0, '127.0.0.1', () => console.log(\`http://127.0.0.1:\${server.address().port}\`));
`;

let sim: SimServer;
let dir: string;
let host: ChildProcess | undefined;
let installedBy: string;
beforeAll(async () => {
  sim = await startSim();
  dir = mkdtempSync(join(tmpdir(), 'wx-host-express-'));
  installedBy = installHost(dir, await packServer(), ['express']);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'express-host', private: true, type: 'module' }));
  writeFileSync(join(dir, 'server.mjs'), EXPRESS_HOST);
}, 180_000);
afterAll(() => {
  host?.kill();
  sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an Express host from the npm pack tarball', () => {
  it(`is at most 10 lines and serves mini login → /me → logout → 401, /orders through getSession`, async () => {
    const lines = EXPRESS_HOST.trimEnd().split('\n').length;
    console.log(`Express host: ${lines} lines (server.mjs); package installed by ${installedBy}`);
    expect(lines).toBeLessThanOrEqual(10);
    // the host docs/INTEGRATE.md shows is this one, verbatim
    expect(readFileSync('docs/INTEGRATE.md', 'utf8')).toContain(EXPRESS_HOST.trimEnd());
    const started = await startHostProcess(dir, 'server.mjs', { WX_APPID: sim.app.appid, WX_SECRET: sim.app.secret, WX_API_BASE: sim.url });
    host = started.child;
    const { orders } = await loginJourney(started.url, await sim.code('express-host'));
    // /orders anonymous, /orders signed in, /me, logout, /me after logout, /orders after logout
    expect(orders).toEqual([401, 200, 200, 204, 401, 401]);
    expect(started.output()).not.toContain(sim.app.secret);
  });
});
