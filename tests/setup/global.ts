// vitest globalSetup (server project): makes a MongoDB-compatible server available to the tests
// as inject('mongodbUri').
//   MONGODB_URI set   -> that server
//   SKIP_MONGO=1      -> '' (MongoDB-backed tests skip themselves; fast local runs)
//   otherwise         -> `node scripts/ferretdb.mjs start` (FerretDB on a private PostgreSQL)
// The server is left running after the run (faster reruns) unless CI is set.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** '' when no MongoDB-compatible server is available (SKIP_MONGO=1) */
    mongodbUri: string;
  }
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(root, 'scripts', 'ferretdb.mjs');

function ferretdb(command: 'start' | 'stop'): string {
  const env = { ...process.env };
  delete env.MONGODB_URI;
  const res = spawnSync(process.execPath, [script, command], {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    throw new Error(`node scripts/ferretdb.mjs ${command} failed (exit ${res.status}); set MONGODB_URI to use an existing server, or SKIP_MONGO=1 to skip the MongoDB tests`);
  }
  return (res.stdout ?? '').trim().split('\n').pop()?.trim() ?? '';
}

export default function setup(project: TestProject): () => void {
  let startedHere = false;
  let uri = process.env.MONGODB_URI?.trim() ?? '';
  if (!uri && process.env.SKIP_MONGO === '1') {
    console.warn('[global setup] SKIP_MONGO=1: MongoDB-backed tests are skipped');
  } else if (!uri) {
    uri = ferretdb('start');
    if (!uri.startsWith('mongodb://')) throw new Error(`scripts/ferretdb.mjs start printed no URI (got ${JSON.stringify(uri)})`);
    startedHere = true;
  }
  project.provide('mongodbUri', uri);

  return () => {
    if (startedHere && process.env.CI) ferretdb('stop');
  };
}
