// CPU profile of cold returning logins on the BUILT api/index function (issue 21): where the CPU of
// a cold login goes, by file (bundle chunk / Node internals) and by function, summed over N runs.
//   MONGODB_URI=mongodb://127.0.0.1:27018/ BENCH_SKIP_BUILD=1 npx tsx bench/cold-profile.ts [runs=5] [path=/api/auth/mini/login]
// Prints markdown; writes profiles under a temporary directory (removed). Not a test.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { migrateMongo } from '../packages/server/src/store/mongo.js';
import { buildProduct, funcEntry } from './cold.js';
import { json, request, startChild } from './lib.js';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.argv[2] ?? 5);
const PATH = process.argv[3] ?? '/api/auth/mini/login';
const uri = process.env.MONGODB_URI!;
const DB = 'bench_cold_profile';
const funcs = process.env.BENCH_SKIP_BUILD ? join(ROOT, '.vercel/output/functions/api') : buildProduct();
const work = mkdtempSync(join(tmpdir(), 'bench-cold-prof-'));
cpSync(join(funcs, 'index.func'), join(work, 'f'), { recursive: true });
mkdirSync(join(work, 'f/node_modules'), { recursive: true });
symlinkSync('../packages/server', join(work, 'f/node_modules/wlu-wxlogin-server'));
const entry = funcEntry(join(work, 'f'));

const appid = 'wxbe0c000000000c21';
const secret = randomBytes(16).toString('hex');
const client = new MongoClient(uri);
await migrateMongo(client.db(DB));
await client.close();
const sim = await startChild(join(ROOT, 'bench/sim-server.ts'), { BENCH_APPID: appid, BENCH_SECRET: secret, BENCH_SIM_SEED: 'cold-profile' });
const env = { WECHAT_MINI_APPID: appid, WECHAT_MINI_SECRET: secret, WECHAT_API_BASE: sim.url, WECHAT_API_FAILOVER: '', MONGODB_URI: uri, MONGODB_DB: DB, LOG_LEVEL: 'error' };
const code = async () => (await json<{ code: string }>(`${sim.url}/__sim/mini/code`, { body: { appid, user: 'cold-returning' } })).code;

async function once(profDir?: string): Promise<void> {
  const args = profDir ? ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', profDir] : [];
  const child = spawn(process.execPath, [...args, join(ROOT, 'bench/cold-launch.mjs'), entry], { env: { PATH: process.env.PATH ?? '', ...env, COLD_EXIT: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((done) => child.once('exit', done));
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const msg = JSON.parse(line) as { port?: number };
    if (!msg.port) continue;
    const body = PATH.endsWith('/login') ? { code: await code() } : undefined;
    const res = await request(`http://127.0.0.1:${msg.port}${PATH}`, body ? { method: 'POST', body } : {});
    if (res.status !== 200) throw new Error(`${res.status} ${res.body}`);
    break;
  }
  await exited;
}

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
const byFile = new Map<string, number>();
const byFn = new Map<string, number>();
let total = 0;
try {
  await once(); // the account exists; page cache warm
  const dir = join(work, 'prof');
  for (let i = 0; i < RUNS; i++) await once(dir);
  for (const file of readdirSync(dir)) {
    const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
    const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
    prof.samples.forEach((id, i) => {
      const n = nodes.get(id)!;
      const dt = (prof.timeDeltas[i] ?? 0) / 1000 / RUNS;
      const url = n.callFrame.url.replace(/^file:\/\/.*\/(packages|node_modules|api)\//, '$1/') || `(${n.callFrame.functionName || 'native'})`;
      if (n.callFrame.functionName === '(idle)') return;
      total += dt;
      byFile.set(url, (byFile.get(url) ?? 0) + dt);
      const fn = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber}`;
      byFn.set(fn, (byFn.get(fn) ?? 0) + dt);
    });
  }
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, ms]) => `| ${name.slice(0, 140)} | ${ms.toFixed(1)} |`).join('\n');
  console.log(`CPU (not idle) per cold ${PATH}, mean of ${RUNS}: ${total.toFixed(1)} ms\n\n| file | ms |\n|---|---|\n${top(byFile, 25)}\n\n| function (self) | ms |\n|---|---|\n${top(byFn, 40)}`);
} finally {
  await sim.stop();
  if (process.env.COLD_PROFILE_KEEP) console.error(`profiles kept in ${work}/prof`);
  else rmSync(work, { recursive: true, force: true });
}
