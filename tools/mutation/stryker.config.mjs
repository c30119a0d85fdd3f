// Mutation testing of the ten security-critical server files (docs/TESTING.md).
// Run through `npm run mutation` (scripts/mutation.mjs), which supplies Node 22.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'tools/mutation/vitest.config.mts' },
  coverageAnalysis: 'perTest',
  mutate: [
    'api/_lib/flows/oauth/login.ts',
    'api/_lib/flows/mini/login.ts',
    'api/_lib/flows/mini/decrypt.ts',
    'api/_lib/http/auth.ts',
    'api/_lib/crypto/tokens.ts',
    'api/_lib/crypto/seal.ts',
    'api/_lib/wechat/access-token.ts',
    'api/_lib/wechat/crypto.ts',
    'api/_lib/sessions/sessions.ts',
    'api/_lib/users/accounts.ts',
  ],
  // Only what the server tests need is copied into the sandbox.
  // .cache holds the test database's files and sockets when it was started from this checkout.
  ignorePatterns: ['client', 'bench', 'docs', 'dist', '.data', '.vercel', 'reports', '*.log', '.cache'],
  checkers: [],
  concurrency: 1,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
