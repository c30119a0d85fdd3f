/**
 * A uni-app host nobody here wrote (dcloudio's uni-preset-vue vite-ts template, ../shared/fixtures/hosts),
 * copied to a temp dir and built with the uni CLI the way its own `npm run build:*` would.
 * Either nothing is installed (linkNodeModules: the host's node_modules is a real folder of symlinks to
 * the repository's node_modules, so the build runs with the REPOSITORY's uni-app/vite/vue; @vue/tsconfig,
 * which the fixture's tsconfig `extends` and vite refuses to leave unresolved, gets a minimal stand-in),
 * or the host installs its OWN package.json with npm (npmInstall: the template's own, older uni-app).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { readFileSync } from 'node:fs';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The CI clone has shared/ beside the repository (read-only): ../shared/fixtures/hosts/... */
export const UNI_PRESET = resolve(ROOT, '../shared/fixtures/hosts/uni-preset-vue-vite-ts');
export const HAVE_UNI_PRESET = existsSync(join(UNI_PRESET, 'package.json'));

export function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}
/** Every file under dir, relative, with forward slashes, sorted. */
export const rel = (dir: string) => files(dir).map((f) => relative(dir, f).split('\\').join('/')).sort();

/** host/node_modules: a symlink per entry of the repository's node_modules, minus `skip` (what the test installs itself). */
export function linkNodeModules(hostDir: string, skip: readonly string[] = []): void {
  const repoModules = join(ROOT, 'node_modules');
  const target = join(hostDir, 'node_modules');
  mkdirSync(target);
  for (const name of readdirSync(repoModules)) {
    if (name === '@vue' || skip.includes(name)) continue;
    symlinkSync(join(repoModules, name), join(target, name));
  }
  mkdirSync(join(target, '@vue'));
  for (const name of readdirSync(join(repoModules, '@vue'))) symlinkSync(join(repoModules, '@vue', name), join(target, '@vue', name));
  if (!existsSync(join(target, '@vue', 'tsconfig'))) {
    mkdirSync(join(target, '@vue', 'tsconfig'));
    writeFileSync(join(target, '@vue', 'tsconfig', 'package.json'), JSON.stringify({ name: '@vue/tsconfig', version: '0.0.0-stand-in' }));
    writeFileSync(
      join(target, '@vue', 'tsconfig', 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, useDefineForClassFields: true, target: 'ESNext', module: 'ESNext', moduleResolution: 'Node', jsx: 'preserve' } }),
    );
  }
}

/** `npm install [args]` in hostDir from the registry, as the host's developer would type it; resolves with the seconds it took. */
export function npmInstall(hostDir: string, args: readonly string[] = []): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // not the repository's npm run context, nor vitest's NODE_ENV (production would drop devDependencies)
  for (const name of Object.keys(env)) {
    if (/^(npm_(package|lifecycle)_|npm_config_local_prefix$|INIT_CWD$|NODE_ENV$|VITEST)/.test(name)) delete env[name];
  }
  const started = performance.now();
  return new Promise((done, fail) => {
    let log = '';
    const child = spawn('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...args], { cwd: hostDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done((performance.now() - started) / 1000) : fail(new Error(`npm install ${args.join(' ')} failed (${code}):\n${log}`))));
  });
}

/** The version of `name` in hostDir/node_modules (what the host's build and source resolve). */
export function hostVersion(hostDir: string, name: string): string {
  return (JSON.parse(readFileSync(join(hostDir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** `uni build -p <platform>` in hostDir (absolute UNI_INPUT_DIR = hostDir/src), with the host's own VITE_* `env`. */
export function uniBuild(hostDir: string, platform: 'mp-weixin' | 'h5', outputDir: string, options: { extra?: string[]; env?: Record<string, string> } = {}): Promise<void> {
  const require = createRequire(join(hostDir, 'package.json'));
  const pkgFile = require.resolve('@dcloudio/vite-plugin-uni/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { bin: string | { uni: string } };
  const bin = join(dirname(pkgFile), typeof pkg.bin === 'string' ? pkg.bin : pkg.bin.uni);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', UNI_INPUT_DIR: join(hostDir, 'src'), UNI_OUTPUT_DIR: outputDir, ...options.env };
  for (const name of ['UNI_CUSTOM_CONTEXT', 'UNI_CUSTOM_DEFINE', 'UNI_PLATFORM', 'VITE_API_BASE', 'VITE_SIM_BASE', 'VITE_DEV_SIM_URL', 'VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID']) {
    if (!options.env?.[name]) delete env[name];
  }
  return new Promise((done, fail) => {
    let log = '';
    const child = spawn(process.execPath, [bin, 'build', '-p', platform, ...(options.extra ?? [])], { cwd: hostDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`uni build -p ${platform} failed (${code}):\n${log}`))));
  });
}
