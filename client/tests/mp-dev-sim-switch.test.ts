// The development-only switch: in an mp-weixin DEV build (npm run dev:mp) the login page can take
// its code from the WeChat simulator instead of wx.login (whose real codes the simulator cannot
// exchange). The release bundle contains none of it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { ROOT, acquireLock, ensureMpBuild } from './support/build';
import { createFakeWx, loadPage } from './support/mp';
import { startStackProcess, type StackHandle } from './support/stack-process';

let stack: StackHandle;
let devDir: string;
let watcher: ChildProcess | undefined;

function allText(dir: string): string {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .map((p) => (statSync(p).isDirectory() ? allText(p) : readFileSync(p, 'utf8')))
    .join('\n');
}

beforeAll(async () => {
  stack = await startStackProcess();
  devDir = mkdtempSync(join(tmpdir(), 'mp-weixin-dev-'));
  // builds share client/manifest.json (the dev one has urlCheck off): one build at a time
  const release = await acquireLock();
  try {
    await devBuild();
  } finally {
    release();
  }
  writeFileSync(join(devDir, 'package.json'), '{"type":"commonjs"}\n'); // WeChat runs these as CommonJS
}, 180_000);

async function devBuild(): Promise<void> {
  // `dev mp-weixin` is a watch build: start it, wait for the first complete build, stop it.
  watcher = spawn(process.execPath, [join(ROOT, 'scripts/uni.mjs'), 'dev', 'mp-weixin'], {
    cwd: ROOT,
    env: { ...process.env, UNI_OUTPUT_DIR: devDir, VITE_API_BASE: stack.apiUrl, VITE_SIM_BASE: stack.simUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  watcher.stdout!.on('data', (d) => (log += d));
  watcher.stderr!.on('data', (d) => (log += d));
  await vi.waitFor(
    () => {
      if (watcher!.exitCode !== null) throw new Error(`dev build exited:\n${log}`);
      if (!/Watching for changes/.test(log) || !existsSync(join(devDir, 'common/vendor.js'))) throw new Error('building');
    },
    { timeout: 90_000, interval: 250 },
  );
  const stopped = new Promise((r) => watcher!.once('exit', r));
  watcher.kill('SIGTERM');
  await stopped;
}

afterAll(async () => {
  if (watcher && watcher.exitCode === null) watcher.kill('SIGKILL');
  await stack?.close();
  if (devDir) rmSync(devDir, { recursive: true, force: true });
});

it('Should log in with a simulator code when the dev switch is on, and ship no switch in release', async () => {
  // A real phone's wx.login: a code WeChat issued, which the simulator rejects.
  // the dev build was configured with the test API and simulator origins: exactly those resolve
  const fake = createFakeWx({ apiBase: stack.apiUrl, apiUrl: stack.apiUrl, otherOrigins: [stack.simUrl], login: async () => '0a3XNmGa1realWeChatCode' });
  const view = await loadPage(devDir, 'uni_modules/wlu-wxlogin/pages/login/index', fake);
  expect(view.text()).toContain('开发模式：用模拟器获取 code');

  await view.tap('.dev-sim-switch', 'change', { value: true });
  await vi.waitFor(() => expect(view.find('.dev-sim-user')).not.toBeNull());
  await view.tap('.dev-sim-user', 'blur', { value: 'dev-switch-user' });
  const loginsBefore = fake.calls.login;

  await view.tap('.agree-check');
  await vi.waitFor(() => expect(view.find('.agree-checked')).not.toBeNull());
  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });
  expect(fake.calls.login).toBe(loginsBefore); // no wx.login while the switch is on
  const simCalls = fake.calls.request.filter((r) => r.url === '/__sim/mini/code');
  expect(simCalls.at(-1)?.data).toEqual({ appid: stack.appid, user: 'dev-switch-user' });
  expect((fake.storage.get('auth.session') as { token?: string }).token).toEqual(expect.any(String));
  await view.app.waitFor('uni_modules/wlu-wxlogin/pages/profile/index'); // a new user: the fill-in opens (before the test ends)

  // the release bundle has neither the switch nor the simulator path
  const release = allText(await ensureMpBuild());
  expect(release).not.toContain('__sim');
  expect(release).not.toContain('用模拟器获取');
  expect(allText(devDir)).toContain('__sim/mini/code');
});
