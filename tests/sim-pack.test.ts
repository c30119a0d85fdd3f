// What npm publishes of the simulator: `npm pack` of packages/sim ships only dist, package.json and
// the readme, and the bin runs from the unpacked tarball with plain node (its dependencies installed
// beside it, as npm would), importing nothing but its declared dependencies.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_PACKAGE } from '../scripts/lib/sim-bin.js';

const ROOT = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sim-pack-'));
const pkg = JSON.parse(readFileSync(join(SIM_PACKAGE, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies?: unknown;
  exports: Record<string, unknown>;
};
let files: string[];
let installed: string;

beforeAll(() => {
  // `npm pack` runs the package's `prepare` (the build) first, as `npm publish` would
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: SIM_PACKAGE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out) as [{ filename: string; files: { path: string }[] }];
  files = info.files.map((f) => f.path).sort();
  // a host's node_modules: the unpacked package plus its dependencies (from this repository's install)
  const modules = join(dir, 'host/node_modules');
  installed = join(modules, pkg.name);
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['xzf', join(dir, info.filename), '-C', installed, '--strip-components=1']);
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(join(modules, dep, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), join(modules, dep));
  }
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm pack packages/sim', () => {
  it('ships only dist, package.json and the readme', () => {
    expect(files.filter((f) => !f.startsWith('dist/'))).toEqual(['package.json', 'readme.md']);
    expect(files).toContain(pkg.bin['wlu-wxlogin-sim']);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/types/index.d.ts');
    expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
    expect(pkg.devDependencies).toBeUndefined();
  });

  it('its bundles import only Node built-ins and the declared dependencies — nothing of the server package', () => {
    const js = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(installed, f), 'utf8'));
    const specifiers = new Set(js.flatMap((text) => [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*"([^"]+)"|import\("([^"]+)"\)/g)].map((m) => m[1] ?? m[2]!)));
    const bare = [...specifiers].filter((s) => !s.startsWith('.') && !s.startsWith('node:'));
    const packages = new Set(bare.map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!)));
    expect([...packages].sort()).toEqual(Object.keys(pkg.dependencies).sort());
    expect(js.join('\n')).not.toMatch(/wlu-wxlogin-server|packages\/server/);
  });

  it('the server package never imports the simulator (a host gets it only as a devDependency)', () => {
    const sources = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
    const offenders = sources(join(ROOT, 'packages/server/src')).filter((f) => /from '[^']*(wlu-wxlogin-sim|packages\/sim|\.\.\/sim\/)[^']*'|import\('[^']*(wlu-wxlogin-sim|\/sim\/)/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
    const serverPkg = JSON.parse(readFileSync(join(ROOT, 'packages/server/package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) expect(Object.keys(serverPkg[field] ?? {})).not.toContain(pkg.name);
  });

  it('the bin runs from the unpacked tarball with plain node and answers a jscode2session round trip', async () => {
    const bin = join(installed, pkg.bin['wlu-wxlogin-sim']!);
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', cwd: join(dir, 'host') });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--app <kind:appid[:secret]>');
    const child = spawn(process.execPath, [bin, '--port', '0', '--json', '--app', 'mini:wx00000000000000aa:packed'], { cwd: join(dir, 'host'), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((done, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => (out += d) && out.includes('\n') && done(out.split('\n')[0]!));
        child.on('close', (code) => reject(new Error(`exited ${code}`)));
      });
      const { url } = JSON.parse(line) as { url: string };
      const { code } = (await (await fetch(`${url}/__sim/mini/code`, { method: 'POST', body: JSON.stringify({ appid: 'wx00000000000000aa', user: 'packed' }), headers: { 'content-type': 'application/json' } })).json()) as { code: string };
      const session = JSON.parse(await (await fetch(`${url}/sns/jscode2session?appid=wx00000000000000aa&secret=packed&js_code=${code}&grant_type=authorization_code`)).text());
      expect(session.openid).toMatch(/^o/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('the package root is the only import: startSimulator works by name, a deep import is refused', () => {
    const script = `
      import { startSimulator } from 'wlu-wxlogin-sim';
      const sim = await startSimulator({ port: 0, apps: [{ appid: 'wx00000000000000bb', secret: 's', openPlatformId: null }] });
      console.log(JSON.stringify({ bases: sim.bases, apps: [...sim.state.apps.keys()] }));
      await sim.close();
      try { await import('wlu-wxlogin-sim/dist/cli.js'); } catch (e) { console.log(e.code); }`;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(dir, 'host'), encoding: 'utf8', timeout: 20_000 });
    expect(res.stderr).toBe('');
    const [first, second] = res.stdout.trim().split('\n');
    const out = JSON.parse(first!) as { bases: { apiBase: string; openBase: string; mpBase: string }; apps: string[] };
    expect(out.apps).toEqual(['wx00000000000000bb']);
    expect(out.bases.apiBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out.bases.openBase).toBe(out.bases.apiBase);
    expect(second).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});

