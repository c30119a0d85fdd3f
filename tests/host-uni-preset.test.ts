// @vitest-environment jsdom
// Issue 20 part 4 / design §9: the uni_module on a host nobody here wrote — dcloudio's Vue 3 + Vite + TS
// template (../shared/fixtures/hosts/uni-preset-vue-vite-ts), added exactly as docs/INTEGRATE.md says:
//   1. `npm i wlu-wxlogin pinia@2.2.4`: the module's own `npm pack` tarball unpacked into
//      node_modules/wlu-wxlogin (no network: the rest of node_modules links to the repository's),
//   2. `npx wlu-wxlogin link`: the tarball's bin makes src/uni_modules/wlu-wxlogin a symlink,
//   3. the host's edits: docs/integrate/uni-app-host.patch, which INTEGRATE.md embeds verbatim,
// then counts the host lines changed, builds mp-weixin and H5, prints the main-package delta against
// the same host built before step 3, and logs in through the COMPILED module page: H5 in Chromium
// (PC card, our own QR confirmed on the phone) and mp-weixin in miniprogram-simulate (wx.login with
// the simulator's codes), both against the repository's API + WeChat simulator.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mpMainPackageBytes, mpModuleMainBytes } from '../scripts/sizes.mjs';
import { CHROMIUM, digitsOn, launchBrowser, reachPicks, TWO_SITES, WECHAT_UA, type Browser } from '../client/tests/support/browser.js';
import { TEST_API_BASE } from '../client/tests/support/build.js';
import { createFakeWx, httpJson, loadPage, runnableCopy, simulatorLogin } from '../client/tests/support/mp.js';
import { startStackProcess, type StackHandle } from '../client/tests/support/stack-process.js';
import { serveStatic } from '../client/tests/support/static-server.js';
import { files, HAVE_UNI_PRESET, linkNodeModules, rel, ROOT, UNI_PRESET, uniBuild } from './support/uni-host.js';

const ID = 'wlu-wxlogin';
const MODULE = join(ROOT, 'packages', ID);
const PATCH = join(ROOT, 'docs/integrate/uni-app-host.patch');
const INTEGRATE = join(ROOT, 'docs/INTEGRATE.md');
const SUB_ROOT = `uni_modules/${ID}/pages`;
/** the files the host edits (the count: main.ts, pages.json, manifest.json) */
const HOST_FILES = ['src/main.ts', 'src/pages.json', 'src/manifest.json'];
const MAX_HOST_LINES = 12;
const MAX_MAIN_DELTA = 40 * 1024;

let work = '';
let host = '';
const out = { mpClean: '', mp: '', h5: '' };
let hostLines = 0;
let numstat = '';

if (!HAVE_UNI_PRESET) console.warn(`[host-uni-preset] skipped: fixture host not found at ${UNI_PRESET}`);

const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=host', '-c', 'user.email=host@example.invalid', ...args], { cwd: host, encoding: 'utf8' });
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

describe.skipIf(!HAVE_UNI_PRESET)('the uni_module on dcloudio uni-preset-vue (vite-ts), added as docs/INTEGRATE.md says', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'host-uni-preset-'));
    host = join(work, 'host');
    cpSync(UNI_PRESET, host, { recursive: true });
    for (const f of files(host)) chmodSync(f, 0o644); // the fixture is read-only
    // the host's three files in LF (the fixture mixes CRLF and LF; the patch is LF, like the doc)
    for (const f of HOST_FILES) writeFileSync(join(host, f), readFileSync(join(host, f), 'utf8').replace(/\r\n/g, '\n'));
    linkNodeModules(host, [ID]);

    // 1. npm i wlu-wxlogin pinia@2.2.4 — the tarball npm would download, unpacked where npm puts it
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: MODULE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { filename: string }[];
    const installed = join(host, 'node_modules', ID);
    mkdirSync(installed);
    execFileSync('tar', ['-xzf', join(work, packed!.filename), '--strip-components=1', '-C', installed]);
    const pkgFile = join(host, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { dependencies: Record<string, string> };
    pkg.dependencies = { ...pkg.dependencies, pinia: '2.2.4', [ID]: `^${JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version}` };
    writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n');

    // the baseline: the same host without the module's edits (link step not yet run)
    out.mpClean = join(work, 'dist', 'mp-weixin-clean');
    await uniBuild(host, 'mp-weixin', out.mpClean);

    // 2. npx wlu-wxlogin link (the bin of the installed tarball)
    execFileSync(process.execPath, [join(installed, 'bin', 'link.mjs'), 'link'], { cwd: host, stdio: 'ignore' });

    // 3. the host's edits, exactly the patch INTEGRATE.md shows
    git('init', '-q');
    git('add', '-A', '--', ...HOST_FILES);
    git('commit', '-qm', 'the template as created');
    git('apply', PATCH);
    numstat = git('diff', '--numstat', '--', ...HOST_FILES);
    hostLines = numstat
      .trim()
      .split('\n')
      .reduce((sum, line) => sum + Number(line.split('\t')[0]) + Number(line.split('\t')[1]), 0);

    out.mp = join(work, 'dist', 'mp-weixin');
    out.h5 = join(work, 'dist', 'h5');
    await uniBuild(host, 'mp-weixin', out.mp, { env: { VITE_WXLOGIN_API: TEST_API_BASE } });
    await uniBuild(host, 'h5', out.h5);
  }, 600_000);
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true }); // removes the links, never their targets
  });

  it('installs from the tarball: shared/ holds real files equal to the repository shared/, and link makes a symlink', () => {
    const installed = join(host, 'node_modules', ID);
    for (const name of ['api.ts', 'errors.ts', 'oauth.ts']) {
      expect(lstatSync(join(installed, 'shared', name)).isFile()).toBe(true);
      expect(readFileSync(join(installed, 'shared', name), 'utf8')).toBe(readFileSync(join(ROOT, 'shared', name), 'utf8'));
    }
    expect(existsSync(join(installed, 'node_modules'))).toBe(false); // no dependencies of its own (peers only)
    const link = join(host, 'src', 'uni_modules', ID);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(realpathSync(link)).toBe(realpathSync(installed));
    // the workspace's own link did not survive into the package
    expect(lstatSync(join(MODULE, 'shared')).isSymbolicLink()).toBe(true);
  });

  it(`changes at most ${MAX_HOST_LINES} host lines (main.ts, pages.json, manifest.json), and INTEGRATE.md shows that exact patch`, () => {
    console.log(`[host-uni-preset] host lines changed: ${hostLines} (goal ≤ ${MAX_HOST_LINES})\n${numstat.trim()}`);
    expect(hostLines).toBeGreaterThan(0);
    expect(hostLines).toBeLessThanOrEqual(MAX_HOST_LINES);
    expect(readFileSync(INTEGRATE, 'utf8')).toContain(readFileSync(PATCH, 'utf8'));
  });

  it(`mp-weixin: the pages form the subpackage, the module adds ≤ ${MAX_MAIN_DELTA / 1024} KB to the main package, vendor.js carries none of it`, () => {
    const app = JSON.parse(readFileSync(join(out.mp, 'app.json'), 'utf8')) as { pages: string[]; subPackages: { root: string; pages: string[] }[]; __usePrivacyCheck__?: boolean };
    expect(app.pages).toEqual(['pages/index/index']);
    expect(app.subPackages).toEqual([{ root: SUB_ROOT, pages: ['login/index', 'profile/index', 'account/index', 'legal/index'] }]);
    expect(app.__usePrivacyCheck__).toBe(true);
    const before = mpMainPackageBytes(out.mpClean);
    const after = mpMainPackageBytes(out.mp);
    const vendorDelta = statSync(join(out.mp, 'common', 'vendor.js')).size - statSync(join(out.mpClean, 'common', 'vendor.js')).size;
    console.log(
      `[host-uni-preset] mp-weixin main package: ${kb(before)} → ${kb(after)} (+${kb(after - before)}, goal ≤ ${kb(MAX_MAIN_DELTA)}): ` +
        `the module's own files outside its subpackage ${kb(mpModuleMainBytes(out.mp))}, common/vendor.js +${kb(vendorDelta)} (Pinia, the uni APIs it calls)`,
    );
    expect(after - before).toBeLessThanOrEqual(MAX_MAIN_DELTA);
    expect(rel(out.mp).some((f) => /node[-_]modules/.test(f))).toBe(false);
    const vendor = readFileSync(join(out.mp, 'common', 'vendor.js'), 'utf8');
    expect(vendor).not.toContain('wlu-auth'); // the store's id: the module is its own chunks, not a vendor copy
    expect(statSync(join(out.mp, SUB_ROOT, 'login', 'index.wxml')).isFile()).toBe(true);
  });

  describe('logging in through the compiled module page against the API + simulator', () => {
    let stack: StackHandle;
    beforeAll(async () => {
      stack = await startStackProcess({ domains: ['app.test', '127.0.0.1', 'localhost'], simPublicHost: 'wx.test' });
    }, 120_000);
    afterAll(async () => {
      await stack?.close();
    });

    it.skipIf(!CHROMIUM)('H5 (hash router) in Chromium: PC card → our QR → 确认 on the phone → a session /api/auth/me accepts', { timeout: 120_000 }, async () => {
      const site = await serveStatic(out.h5, stack.apiUrl);
      const pc: Browser = await launchBrowser({ viewport: { width: 1366, height: 800 }, args: TWO_SITES });
      const phone: Browser = await launchBrowser({ userAgent: WECHAT_UA, args: TWO_SITES });
      try {
        const app = site.url.replace('127.0.0.1', 'app.test');
        const page = await pc.context.newPage();
        const attempt = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
        await page.goto(`${app}/#/${SUB_ROOT}/login/index?pc_login=own-qr`);
        const { scanUrl } = (await (await attempt).json()) as { scanUrl: string };
        await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 15_000 });

        const mobile = await phone.context.newPage();
        await phone.context.addCookies([{ name: 'sim_user', value: 'preset-h5-user', url: `http://wx.test:${new URL(stack.simUrl).port}` }]);
        await mobile.goto(scanUrl);
        await reachPicks(mobile);
        await mobile.getByRole('button', { name: await digitsOn(page), exact: true }).click();

        await vi.waitFor(async () => expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toBeTruthy(), { timeout: 20_000, interval: 250 });
        const raw = (await page.evaluate(() => localStorage.getItem('auth.session')))!;
        // uni.setStorageSync on H5 wraps the value: {"type":"object","data":{token,…}}
        const stored = JSON.parse(raw) as { data?: { token: string }; token?: string };
        const token = stored.data?.token ?? stored.token;
        expect(token).toMatch(/[a-z2-7]{32}/);
        const me = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
        expect(me.status).toBe(200);
      } finally {
        await pc.close();
        await phone.close();
        await site.close();
      }
    });

    it('mp-weixin in miniprogram-simulate: agree, 微信登录 with one wx.login, a token /api/auth/me accepts', { timeout: 60_000 }, async () => {
      const bundle = runnableCopy(out.mp);
      try {
        const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'preset-mp-user') });
        const view = await loadPage(bundle.dir, `${SUB_ROOT}/login/index`, fake);
        expect(view.text()).toContain('微信登录');
        await view.tap('.agree-check');
        await vi.waitFor(() => expect(view.find('.agree-checked')).not.toBeNull());
        await view.tap('.login-btn');
        await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });
        expect(fake.calls.login).toBe(1);
        expect(fake.calls.request.filter((r) => r.url === '/api/auth/mini/login')).toHaveLength(1);
        const session = fake.storage.get('auth.session') as { token: string; user: { id: string } };
        const me = await httpJson('GET', `${stack.apiUrl}/api/auth/me`, undefined, { authorization: `Bearer ${session.token}` });
        expect(me.status).toBe(200);
        expect(me.body.user.id).toBe(session.user.id);
        // a new user without a nickname: the module's profile page is next (really opened, in the subpackage)
        await view.app.waitFor(`${SUB_ROOT}/profile/index`);
      } finally {
        bundle.remove();
      }
    });
  });
});
