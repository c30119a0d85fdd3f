/**
 * The compiled-page tests run RELEASE bundles (dist/test/mp-weixin, dist/build/h5). On a
 * clean clone they do not exist yet, and after a source edit they are stale: build them then,
 * once, even when several test files ask at the same time (a directory lock serialises builds).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export type Platform = 'mp-weixin' | 'h5';
/**
 * The compiled-page tests run a release mp-weixin build configured with this API base (the
 * release guard in scripts/uni.mjs refuses a build without one). The fake wx resolves ONLY this
 * origin, to the test's API (like a hosts entry); any other origin fails like a domain WeChat
 * does not allow. Kept apart from dist/build (what CI builds with its own base).
 */
export const TEST_API_BASE = 'https://api.mp-test.invalid';
export const MP_DIST = join(ROOT, 'dist/test/mp-weixin');
export const H5_DIST = join(ROOT, 'dist/build/h5');
const DIST: Record<Platform, { dir: string; marker: string }> = {
  'mp-weixin': { dir: MP_DIST, marker: 'common/vendor.js' },
  h5: { dir: H5_DIST, marker: 'index.html' },
};
const LOCK = join(ROOT, 'dist/.client-build.lock');
const STALE_LOCK_MS = 180_000;

function newestMtime(path: string, skip: (p: string) => boolean): number {
  if (skip(path) || !existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name), skip));
  return newest;
}

/** true when the release bundle exists and is newer than every input of the build. */
export function buildIsFresh(platform: Platform): boolean {
  const marker = join(DIST[platform].dir, DIST[platform].marker);
  if (!existsSync(marker)) return false;
  if (platform === 'h5' && !existsSync(join(DIST.h5.dir, 'assets'))) return false; // not a placeholder
  const skip = (p: string) =>
    p.includes(join('client', 'tests')) || p.includes(join('client', 'docs')) || p.endsWith(join('client', 'manifest.json'));
  const inputs = [join(ROOT, 'client'), join(ROOT, 'packages/wlu-wxlogin'), join(ROOT, 'shared'), join(ROOT, 'manifest.json'), join(ROOT, 'index.html'), join(ROOT, 'vite.config.ts'), join(ROOT, 'scripts/uni.mjs')];
  const newestInput = Math.max(...inputs.map((p) => newestMtime(p, skip)));
  return statSync(marker).mtimeMs >= newestInput;
}

function run(platform: Platform): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const child = spawn(process.execPath, [join(ROOT, 'scripts/uni.mjs'), 'build', platform], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        ...(platform === 'mp-weixin' ? { VITE_API_BASE: TEST_API_BASE, UNI_OUTPUT_DIR: MP_DIST } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${platform} build failed (${code}):\n${output}`))));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function acquireLock(): Promise<() => void> {
  mkdirSync(dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // removed meanwhile
      }
      await sleep(200);
    }
  }
}

/** Builds dist/build/<platform> with scripts/uni.mjs unless a fresh build is already there. */
export async function ensureBuild(platform: Platform): Promise<string> {
  if (buildIsFresh(platform)) return DIST[platform].dir;
  const release = await acquireLock();
  try {
    if (!buildIsFresh(platform)) await run(platform);
  } finally {
    release();
  }
  return DIST[platform].dir;
}

export const ensureMpBuild = () => ensureBuild('mp-weixin');
