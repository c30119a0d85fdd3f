import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The server test project alone, for Stryker (no client project, no `projects` list).
// MUTATION_TESTS="tests/a.test.ts,tests/b.test.ts" narrows the run to the tests that guard the
// file being mutated — the full server suite is the default (and takes long per mutant).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const only = (process.env.MUTATION_TESTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);

export default defineConfig({
  root,
  test: {
    include: only.length ? only : ['tests/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['tests/setup/global.ts'],
    testTimeout: 30_000,
    hookTimeout: 300_000,
  },
});
