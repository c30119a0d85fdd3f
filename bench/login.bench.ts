// `npm run bench`: mini-program login throughput and latency against the simulator, and database
// round trips per login, for the embedded store and (when MONGODB_URI is set) MongoDB.
// Writes docs/BENCH.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { silentLogger } from '../api/_lib/log.js';
import { EmbeddedStore } from '../api/_lib/store/embedded.js';
import { createMongoStore, getMongoClient, migrateMongo } from '../api/_lib/store/mongo.js';
import type { Store } from '../api/_lib/store/types.js';
import { startStack } from '../scripts/lib/stack.js';

function counting(inner: Store) {
  const counts = { calls: 0 };
  const store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop !== 'stats' && prop !== 'close') counts.calls++;
        return value.apply(target, args);
      };
    },
  });
  return { store, counts };
}

const results: Awaited<ReturnType<typeof run>>[] = [];
async function run(label: string, inner: Store, n: number, concurrency: number) {
  const { store, counts } = counting(inner);
  // Rate limits off: hundreds of logins from 127.0.0.1, and no background counter syncs in the counts.
  const stack = await startStack({ env: { RATE_LIMIT_PER_ADDRESS: '0', RATE_LIMIT_PER_APPID: '0' }, overrides: { store, logger: silentLogger } });
  const code = async (user: string) =>
    ((await (await fetch(`${stack.simUrl}/__sim/mini/code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid: stack.appid, user }) })).json()) as { code: string }).code;
  const login = async (user: string) => {
    const c = await code(user);
    const t = performance.now();
    const res = await fetch(`${stack.apiUrl}/api/auth/mini/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: c }) });
    if (res.status !== 200) throw new Error(`login failed ${res.status}`);
    await res.arrayBuffer();
    return performance.now() - t;
  };
  // round trips: a first login and a returning login, measured alone
  counts.calls = 0;
  await login(`rt-${results.length}`);
  const firstTrips = counts.calls;
  counts.calls = 0;
  await login(`rt-${results.length}`);
  const returningTrips = counts.calls;

  const latencies: number[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        latencies.push(await login(`user${i % 200}`));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await stack.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(1);
  return { label, n, concurrency, perSecond: (n / seconds).toFixed(0), p50: pct(0.5), p95: pct(0.95), p99: pct(0.99), firstTrips, returningTrips };
}

results.push(await run('embedded (in memory)', new EmbeddedStore({ dir: null }), 2000, 16));
if (process.env.MONGODB_URI) {
  const dbName = `bench_${Date.now()}`;
  const client = await getMongoClient(process.env.MONGODB_URI);
  await migrateMongo(client.db(dbName));
  results.push(await run('MongoDB (MONGODB_URI)', createMongoStore({ uri: process.env.MONGODB_URI, dbName }), 500, 16));
  await client.db(dbName).dropDatabase();
  await client.close();
}

/** Cold start of the built Vercel function: a fresh Node process imports it and serves /api/health. */
function coldStart(): string {
  const entry = '.vercel/output/functions/api/index.func/api/index.js';
  if (!existsSync(entry)) return '_Run `npx vercel build --yes` first to measure the built function._';
  const script = `const t=performance.now();const m=await import(${JSON.stringify(pathToFileURL(entry).href)});const r=await m.default.fetch(new Request('http://x/api/health'));process.stdout.write(String(performance.now()-t));`;
  const times = Array.from({ length: 5 }, () =>
    Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, MONGODB_URI: '', WECHAT_API_BASE: 'http://127.0.0.1:1', DATA_DIR: join(tmpdir(), 'coldstart') } }).toString()),
  ).sort((a, b) => a - b);
  const size = execFileSync('du', ['-sh', '.vercel/output/functions/api/index.func']).toString().split('\t')[0];
  return `Built function (\`.vercel/output/functions/api/index.func\`, ${size} unpacked, most of it sharp's libvips, loaded only on avatar upload): import + first request, median of 5 fresh processes: **${times[2]!.toFixed(0)} ms** (min ${times[0]!.toFixed(0)}, max ${times[4]!.toFixed(0)}).`;
}

const rows = results.map((r) => `| ${r.label} | ${r.n} | ${r.concurrency} | ${r.perSecond} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.firstTrips} | ${r.returningTrips} |`);
const md = `# Benchmarks / 性能

\`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${(await import('node:os')).cpus().length} cores.
Mini-program logins over HTTP (API and WeChat simulator on loopback, same machine). Latency is the
login request only (the simulator's code issue is not counted). Round trips are store calls per login.
The MongoDB row ran against \`MONGODB_URI\`; the committed numbers come from FerretDB 1.24 on PostgreSQL 15
(\`scripts/ferretdb.mjs\`) on the same 2 cores, which is slower than a real mongod.

| store | logins | concurrency | logins/s | p50 ms | p95 ms | p99 ms | DB round trips (first login) | DB round trips (returning) |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

## Cold start / 冷启动

${coldStart()}
`;
// Sections other benchmarks own (bench/pc-login.bench.ts: "## PC login live status") are kept.
const previous = existsSync('docs/BENCH.md') ? readFileSync('docs/BENCH.md', 'utf8') : '';
const kept = previous.indexOf('\n## PC login live status');
writeFileSync('docs/BENCH.md', kept >= 0 ? `${md.trimEnd()}\n${previous.slice(kept)}` : md);
console.log(md);
process.exit(0);
