// `npm test`: runs every vitest project and ends with one plain line
// "N passed, N failed[, N skipped: why]" — every skip is named with its reason and what to install.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const out = join(process.cwd(), '.test-results');
mkdirSync(out, { recursive: true });
const report = join(out, 'vitest.json');
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', args, { stdio: 'inherit', shell: process.platform === 'win32' });

/**
 * Why the tests of a file skip themselves: each condition a test file can skip on, whether it holds
 * in this run, and how to tell that a file depends on it (from its source). A skipped test in a file
 * whose conditions all hold is reported as unexplained — a skip nobody can name is a bug to look at.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
const CONDITIONS = [
  { missing: !CHROMIUM, uses: /\bCHROMIUM\b/, why: 'Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)' },
  { missing: process.env.SKIP_MONGO === '1' && !process.env.MONGODB_URI, uses: /inject\('mongodbUri'\)|testMongo\(/, why: 'SKIP_MONGO=1: no test MongoDB (unset it to run FerretDB, or set MONGODB_URI)' },
  { missing: !existsSync(join(process.cwd(), '..', 'shared', 'fixtures', 'hosts')), uses: /shared\/fixtures\/hosts/, why: 'no ../shared/fixtures/hosts beside the repository (the CI clone has it): the fixture-host build test needs it' },
  { missing: !existsSync(join(process.cwd(), '.vercel', 'output', 'config.json')), uses: /\.vercel|vercel build/, why: 'no Vercel build output (run `npx vercel build` first, as .ci/run does)' },
];
function skipReason(file) {
  let source = '';
  try { source = readFileSync(file, 'utf8'); } catch { /* reported below */ }
  const reasons = CONDITIONS.filter((c) => c.missing && c.uses.test(source)).map((c) => c.why);
  return reasons.length ? reasons.join(' / ') : 'UNEXPLAINED: every condition this file skips on holds — look at the file';
}

let passed = 0, failed = 0, skipped = 0;
const skips = new Map(); // reason -> { count, files }
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests; failed = json.numFailedTests + (json.numRuntimeErrorTestSuites ?? 0);
  skipped = json.numPendingTests + json.numTodoTests;
  if (json.numFailedTestSuites && !json.numFailedTests) failed += json.numFailedTestSuites;
  for (const file of json.testResults ?? []) {
    const n = (file.assertionResults ?? []).filter((a) => ['pending', 'skipped', 'todo'].includes(a.status)).length;
    if (!n) continue;
    const name = relative(process.cwd(), file.name);
    const reason = skipReason(file.name);
    const entry = skips.get(reason) ?? { count: 0, files: [] };
    entry.count += n;
    entry.files.push(name.split(/[\\/]/).pop());
    skips.set(reason, entry);
  }
} catch { failed = Math.max(failed, 1); }
const code = run.status ?? 1;
if (code !== 0 && failed === 0) failed = 1;
const why = [...skips].map(([reason, { count, files }]) => `${count} in ${files.join(', ')}: ${reason}`).join('; ');
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped${why ? ` — ${why}` : ''}` : ''}`);
process.exit(code === 0 && failed === 0 ? 0 : 1);
