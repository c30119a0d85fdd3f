import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Issue 10, first hour: `npm test`'s final line names every skip and why. */
describe('npm test summary line', () => {
  it('names the skipped tests, their file and the reason (Chromium missing)', { timeout: 120_000 }, () => {
    const res = spawnSync(process.execPath, ['scripts/test.mjs', '--project', 'client', 'client/tests/h5-login.test.ts'], {
      env: { ...process.env, CHROMIUM_PATH: '' },
      encoding: 'utf8',
      timeout: 110_000,
    });
    const last = res.stdout.trim().split('\n').pop()!;
    expect(last).toMatch(/^0 passed, 0 failed, (\d+) skipped — \1 in h5-login\.test\.ts: Chromium not found \(apt-get install chromium, or set CHROMIUM_PATH\)$/);
    expect(res.status).toBe(0);
  });

  it('names SKIP_MONGO=1 as the reason when a MongoDB test file skips (not "skipped in the test file")', { timeout: 120_000 }, () => {
    const env: Record<string, string | undefined> = { ...process.env, SKIP_MONGO: '1' };
    delete env.MONGODB_URI;
    const res = spawnSync(process.execPath, ['scripts/test.mjs', '--project', 'server', 'tests/bench-smoke.test.ts'], { env, encoding: 'utf8', timeout: 110_000 });
    const last = res.stdout.trim().split('\n').pop()!;
    expect(last).toMatch(/^0 passed, 0 failed, (\d+) skipped — \1 in bench-smoke\.test\.ts: SKIP_MONGO=1: no test MongoDB/);
    expect(res.status).toBe(0);
  });
});

/**
 * Issue 18 §1: `npm test` on a fresh clone, with no variable set, must find the test MongoDB the
 * global setup started — a test file that reads process.env.MONGODB_URI itself fails or skips there.
 */
describe('test files get the test MongoDB from the global setup only', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  it('no test file reads process.env.MONGODB_URI (they use inject("mongodbUri"))', () => {
    const readers = [...files('tests'), ...files('client/tests')]
      .filter((f) => !f.startsWith(join('tests', 'setup')) && f !== join('tests', 'test-summary.test.ts'))
      .filter((f) => /process\.env\.MONGODB_URI\b/.test(readFileSync(f, 'utf8')));
    expect(readers).toEqual([]);
  });
});
