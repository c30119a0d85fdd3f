#!/usr/bin/env node
// npm run mutation [-- <stryker options>]
// Stryker 10.1.1 (vitest runner) needs Node >= 22; the app runs on Node 20. tools/mutation holds
// Stryker and the npm `node` package (a Node 22 binary from the npm registry), installed on first
// use and used only here. Examples (docs/TESTING.md):
//   npm run mutation                                             # all ten files, full server suite
//   MUTATION_TESTS=tests/tokens.test.ts npm run mutation -- --mutate api/_lib/crypto/tokens.ts --concurrency 1
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(root, 'tools', 'mutation');
const node = join(tools, 'node_modules', '.bin', 'node');
const stryker = join(tools, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');

if (!existsSync(node) || !existsSync(stryker)) {
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: tools, stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}
const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
if (Number(version.replace(/^v/, '').split('.')[0]) < 22) {
  console.error(`tools/mutation/node_modules/.bin/node is ${version}; Stryker 10 needs Node >= 22`);
  process.exit(1);
}
const env = {
  ...process.env,
  // Worker processes and vitest's forks then run on the same Node 22.
  PATH: `${join(tools, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
  MONGODB_URI: process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27018/',
};
const run = spawnSync(node, [stryker, 'run', join('tools', 'mutation', 'stryker.config.mjs'), ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
process.exit(run.status ?? 1);
