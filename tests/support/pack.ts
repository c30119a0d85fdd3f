// The server package as a stranger gets it: `npm pack` of packages/server (prepack builds dist),
// unpacked into an empty folder's node_modules. Test files share one tarball per source state
// (.cache/pack, rebuilt when a source file is newer), under a lock so parallel files never race the build.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
export const SERVER_DIR = join(root, 'packages/server');
const cache = join(root, '.cache/pack');

function newestMtime(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
    const path = join(dir, e.name);
    return Math.max(max, e.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }, 0);
}

/** The tarball's path; packed again when packages/server/src, shared/ or the package files changed. */
export async function packServer(): Promise<string> {
  mkdirSync(cache, { recursive: true });
  const lock = join(cache, 'lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 3 minutes: remove it if no test is running`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    const version = JSON.parse(readFileSync(join(SERVER_DIR, 'package.json'), 'utf8')).version as string;
    const tarball = join(cache, `wlu-wxlogin-server-${version}.tgz`);
    const sources = Math.max(newestMtime(join(SERVER_DIR, 'src')), newestMtime(join(root, 'shared')), newestMtime(join(SERVER_DIR, 'scripts')), statSync(join(SERVER_DIR, 'package.json')).mtimeMs);
    if (!existsSync(tarball) || statSync(tarball).mtimeMs < sources) {
      execFileSync('npm', ['pack', '--json', '--pack-destination', cache], { cwd: SERVER_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    return tarball;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The files a tarball holds (tar's listing, `package/` prefix removed). */
export function tarballFiles(tarball: string): string[] {
  return execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
}

/**
 * An empty host folder with the tarball installed, plus `extra` packages. First `npm install --offline`
 * (works when npm's cache holds every dependency); otherwise the tarball is unpacked into
 * node_modules/wlu-wxlogin-server and its dependencies and `extra` are linked from this repository's
 * node_modules (no network here). Returns how it was installed.
 */
export function installHost(dir: string, tarball: string, extra: string[], how: { copy?: boolean } = {}): 'npm install --offline' | 'unpacked + linked dependencies' | 'unpacked + copied dependencies' {
  mkdirSync(dir, { recursive: true });
  if (!how.copy) {
    const npm = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', tarball, ...extra], { cwd: dir, encoding: 'utf8' });
    if (npm.status === 0) return 'npm install --offline';
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
  }
  const target = join(dir, 'node_modules/wlu-wxlogin-server');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
  const deps = Object.keys(JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')).dependencies ?? {});
  // Copied (a bundler such as Turbopack does not follow links out of the project), with their own dependencies.
  const place = (name: string, seen: Set<string>) => {
    if (seen.has(name)) return;
    seen.add(name);
    const at = join(dir, 'node_modules', name);
    mkdirSync(join(at, '..'), { recursive: true });
    if (!how.copy) return symlinkSync(join(root, 'node_modules', name), at);
    cpSync(realpathSync(join(root, 'node_modules', name)), at, { recursive: true, dereference: true });
    for (const dep of Object.keys(JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')).dependencies ?? {})) place(dep, seen);
  };
  const seen = new Set<string>();
  for (const name of new Set([...deps, ...extra])) place(name, seen);
  return how.copy ? 'unpacked + copied dependencies' : 'unpacked + linked dependencies';
}
