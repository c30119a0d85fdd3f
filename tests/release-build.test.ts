// A release mp-weixin build without a configured API base cannot work on a phone: scripts/uni.mjs
// refuses it before building (nothing written), and reports the placeholder AppID loudly.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const out = join(mkdtempSync(join(tmpdir(), 'release-guard-')), 'mp-weixin');
afterAll(() => rmSync(resolve(out, '..'), { recursive: true, force: true }));

function build(env: Record<string, string | undefined>) {
  const clean: Record<string, string | undefined> = { ...process.env, UNI_OUTPUT_DIR: out, ...env };
  if (env.VITE_API_BASE === undefined) delete clean.VITE_API_BASE;
  return spawnSync(process.execPath, [join(ROOT, 'scripts/uni.mjs'), 'build', 'mp-weixin'], { cwd: ROOT, env: clean, encoding: 'utf8', timeout: 60_000 });
}

it.each([
  [undefined, 'VITE_API_BASE is not set'],
  ['http://api.example.com', 'must be an https:// origin'],
  ['https://api.example.com/v1', 'must be an origin without a path'],
  ['not a url', 'is not a URL'],
])('Should refuse a release mp-weixin build with VITE_API_BASE=%s', (base, reason) => {
  const res = build({ VITE_API_BASE: base });
  expect(res.status).toBe(1);
  expect(res.stderr).toContain('release mp-weixin build refused');
  expect(res.stderr).toContain(reason);
  expect(res.stderr).toContain('VITE_API_BASE=https://api.example.com npm run build:mp');
  expect(existsSync(out)).toBe(false); // stopped before building
});

it('npm run build: refuses a missing VITE_API_BASE before building anything (H5 included)', () => {
  const env: Record<string, string | undefined> = { ...process.env, UNI_OUTPUT_DIR: out };
  delete env.VITE_API_BASE;
  const started = Date.now();
  const res = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  expect(res.status).toBe(1);
  expect(res.stderr).toContain('release mp-weixin build refused: VITE_API_BASE is not set');
  expect(existsSync(out)).toBe(false); // no H5 bundle written first
  expect(res.stdout).not.toMatch(/DONE|Build complete|building/i);
  expect(Date.now() - started).toBeLessThan(15_000); // no H5 build ran
});

it('Should report the placeholder AppID loudly', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8'));
  expect(manifest['mp-weixin'].appid).toBe('wxd0c0ffee00000001'); // the repository ships the placeholder
  const res = build({ VITE_API_BASE: undefined });
  expect(res.stderr).toMatch(/!{20,}\n! manifest\.json mp-weixin\.appid is the placeholder wxd0c0ffee00000001/);
});

it('Should declare the minimum base library (wx.onNeedPrivacyAuthorization needs 2.32.3)', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8'));
  const project = JSON.parse(readFileSync(join(ROOT, 'project.config.json'), 'utf8'));
  expect(manifest['mp-weixin'].libVersion).toBe('2.32.3');
  expect(project.libVersion).toBe('2.32.3');
});
