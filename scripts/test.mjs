// `npm test`: runs every vitest project and ends with one plain line
// "N passed, N failed[, N skipped: why]" — every skip is named with its reason and what to install.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const out = join(process.cwd(), '.test-results');
mkdirSync(out, { recursive: true });
const report = join(out, 'vitest.json');
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', args, { stdio: 'inherit', shell: process.platform === 'win32' });

/** Why the tests of a file skip themselves (the conditions live in the test files). */
const SKIP_REASONS = [
  [/h5-pc-two-processes\.test/, 'Chromium not found, or SKIP_MONGO=1 (it needs both: two API processes on one MongoDB)'],
  [/client[\\/]tests[\\/]h5-/, 'Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)'],
  [/vercel-build\.test/, 'no Vercel build output (run `npx vercel build` first, as .ci/run does)'],
  [/mongo/, 'no MongoDB-compatible server (SKIP_MONGO=1; set MONGODB_URI instead)'],
];
function skipReason(file) {
  return SKIP_REASONS.find(([pattern]) => pattern.test(file))?.[1] ?? 'skipped in the test file';
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
    const reason = skipReason(name);
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
