// Mutation testing of the ten security-critical server files (docs/TESTING.md).
// Run through `npm run mutation` (scripts/mutation.mjs), which supplies Node 22.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'tools/mutation/vitest.config.mts' },
  coverageAnalysis: 'perTest',
  mutate: [
    'packages/server/src/flows/oauth/login.ts',
    'packages/server/src/flows/mini/login.ts',
    'packages/server/src/flows/mini/decrypt.ts',
    'packages/server/src/http/auth.ts',
    'packages/server/src/crypto/tokens.ts',
    'packages/server/src/crypto/seal.ts',
    'packages/server/src/wechat/access-token.ts',
    'packages/server/src/wechat/crypto.ts',
    'packages/server/src/sessions/sessions.ts',
    'packages/server/src/users/accounts.ts',
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
