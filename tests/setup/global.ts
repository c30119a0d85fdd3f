// vitest globalSetup (both projects): makes a MongoDB-compatible server available to the tests
// as inject('mongodbUri') — test files never read process.env.MONGODB_URI themselves.
//   MONGODB_URI set   -> that server
//   SKIP_MONGO=1      -> '' (MongoDB-backed tests skip themselves; fast local runs)
//   otherwise         -> `node scripts/ferretdb.mjs start` (FerretDB on a private PostgreSQL)
// What this run started, it stops at the end (FerretDB and its PostgreSQL), and says so; a server
// that was already running is left as it was found. KEEP_TEST_DB=1 keeps a started one running for
// faster reruns (stop it with `node scripts/ferretdb.mjs stop`).
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';


const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(root, 'scripts', 'ferretdb.mjs');

function ferretdb(command: 'start' | 'stop' | 'uri'): string {
  const env = { ...process.env };
  delete env.MONGODB_URI;
  const res = spawnSync(process.execPath, [script, command], {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.error) throw res.error;
  if (command === 'uri') return res.status === 0 ? (res.stdout ?? '').trim() : '';
  if (res.status !== 0) {
    throw new Error(`node scripts/ferretdb.mjs ${command} failed (exit ${res.status}); set MONGODB_URI to use an existing server, or SKIP_MONGO=1 to skip the MongoDB tests`);
  }
  return (res.stdout ?? '').trim().split('\n').pop()?.trim() ?? '';
}

/**
 * Set by the first project's setup; the other project reuses it and never stops it. On globalThis:
 * each project may load this module on its own, but both run in vitest's main process.
 */
const SHARED = Symbol.for('wechat-login.test-database');
type Shared = { uri: string; startedHere: boolean };
const registry = globalThis as unknown as Record<symbol, Shared | undefined>;

export default function setup(project: TestProject): () => void {
  const first = registry[SHARED] === undefined;
  let shared = registry[SHARED];
  if (!shared) {
    let uri = process.env.MONGODB_URI?.trim() ?? '';
    let startedHere = false;
    if (!uri && process.env.SKIP_MONGO === '1') {
      console.warn('[global setup] SKIP_MONGO=1: MongoDB-backed tests are skipped');
    } else if (!uri) {
      const running = ferretdb('uri');
      uri = running || ferretdb('start');
      if (!uri.startsWith('mongodb://')) throw new Error(`scripts/ferretdb.mjs start printed no URI (got ${JSON.stringify(uri)})`);
      startedHere = !running;
    }
    shared = registry[SHARED] = { uri, startedHere };
  }
  project.provide('mongodbUri', shared.uri);

  return () => {
    registry[SHARED] = undefined;
    if (!first || !shared.startedHere) return;
    if (process.env.KEEP_TEST_DB === '1') {
      console.log('[test database] FerretDB and its PostgreSQL keep running (KEEP_TEST_DB=1); stop them with: node scripts/ferretdb.mjs stop');
      return;
    }
    ferretdb('stop');
    console.log('[test database] stopped FerretDB and its PostgreSQL, which this run started (KEEP_TEST_DB=1 keeps them for faster reruns)');
  };
}
