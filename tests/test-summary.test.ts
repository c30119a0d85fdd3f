import { spawnSync } from 'node:child_process';
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
});
