// Issue 21, "production-like latency": what one person waits for, cold and warm, with WeChat and the
// database as far away as in the two documented topologies (docs/DEPLOY.md §1), plus the memory of
// one built login function under the bench's load.
//
//   MONGODB_URI=mongodb://127.0.0.1:27018/ npx tsx bench/latency.ts [--skip-build] [--n 40] [--cold 7]
//
// Delays: the simulator answers every WeChat call `wechatMs` late (its latencyMs option, the CLI's
// --latency-ms), and every byte between the API and the database crosses a Toxiproxy hop adding
// `dbMs` in EACH direction (scripts/toxiproxy.mjs). Per topology:
//   warm — the product API (bench/product-server.ts) already running and warmed up; one person at a
//          time (c=1): N returning logins, N first logins, N `GET /api/auth/me`;
//   cold — the BUILT function (`vercel build`, .vercel/output/functions/api/index.func) in a fresh
//          process each time (bench/cold-launch.mjs): spawn → first 200 of a returning login, and of a
//          first login. (What Vercel adds before our process starts — placing the instance, fetching
//          the bundle — is not in it; neither are TLS handshakes, see below.)
// Then memory: the built function in one process under c=32 returning + first logins (no added
// delay: the most requests per second), its peak RSS (VmHWM) from /proc.
// Knobs (env): LAT_A_DB_MS (1), LAT_A_WECHAT_MS (15), LAT_B_DB_MS (1), LAT_B_WECHAT_MS (40),
// LAT_MEM_N (3000 returning + a third as many first logins).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';
import { migrateMongo } from '../packages/server/src/store/mongo.js';
import { startToxiproxy } from '../scripts/toxiproxy.mjs';
import { buildProduct, coldOnce, funcEntry } from './cold.js';
import { BENCH_LIMITS, envNumber as num, json, median, percentile, pool, request, startChild, type ChildServer } from './lib.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const N = option('n', 40);
const COLD = option('cold', 7);
const MEM_N = num('LAT_MEM_N', 3000);
const uri = process.env.MONGODB_URI?.trim();
if (!uri) {
  console.error('bench/latency.ts needs MONGODB_URI');
  process.exit(2);
}
const log = (...a: unknown[]) => console.error('[latency]', ...a);
const appid = 'wxbe0c000000000c21';
const secret = randomBytes(16).toString('hex');
const DB = 'bench_latency';
const runId = Date.now().toString(36);

const TOPOLOGIES = [
  { key: 'none', label: 'no added delay (loopback, this machine)', dbMs: 0, wechatMs: 0 },
  { key: 'A', label: 'A: Vercel hkg1 → Atlas Hong Kong + hk.api.weixin.qq.com', dbMs: num('LAT_A_DB_MS', 1), wechatMs: num('LAT_A_WECHAT_MS', 15) },
  { key: 'B', label: 'B: mainland host → MongoDB in its region + api.weixin.qq.com', dbMs: num('LAT_B_DB_MS', 1), wechatMs: num('LAT_B_WECHAT_MS', 40) },
];

const stats = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return { p50: percentile(s, 0.5), p90: percentile(s, 0.9), max: s.at(-1)! };
};

function memoryKb(pid: number): { hwm: number; rss: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { hwm: field('VmHWM'), rss: field('VmRSS') };
}

/** The built function served by bench/cold-launch.mjs in one long-lived process (for the memory run). */
async function serveBuilt(entry: string, env: Record<string, string>): Promise<{ url: string; pid: number; stop(): void }> {
  const child = spawn(process.execPath, [join(ROOT, 'bench/cold-launch.mjs'), entry], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((done, reject) => {
    child.once('exit', (code) => reject(new Error(`launcher exited ${code}`)));
    lines.once('line', (line) => done((JSON.parse(line) as { port: number }).port));
  });
  child.stdout.resume(); // one line per response: drained, not read
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGKILL') };
}

const client = new MongoClient(uri);
const children: ChildServer[] = [];
// built before Toxiproxy starts (a minute of build leaves its API's idle keep-alive socket closed under fetch)
const funcs = args.includes('--skip-build') ? join(ROOT, '.vercel/output/functions/api') : (log('vercel build…'), buildProduct());
const toxi = await startToxiproxy();
const results: { label: string; dbMs: number; wechatMs: number; warm: Record<string, ReturnType<typeof stats>>; cold: Record<string, number[]> }[] = [];
let memory = '';
try {
  await migrateMongo(client.db(DB));
  const entry = funcEntry(join(funcs, 'index.func'));
  const target = new URL(uri.replace(/^mongodb:/, 'http:'));
  for (const topo of TOPOLOGIES) {
    const hop = await toxi.proxy(`lat-${topo.key}`, target.host);
    await hop.latency(topo.dbMs);
    const dbUri = `mongodb://${hop.listen}/${target.search}`;
    const sim = await startChild(join(ROOT, 'bench/sim-server.ts'), { BENCH_APPID: appid, BENCH_SECRET: secret, BENCH_SIM_LATENCY_MS: String(topo.wechatMs) });
    children.push(sim);
    const code = async (user: string) => (await json<{ code: string }>(`${sim.url}/__sim/mini/code`, { body: { appid, user } })).code;
    const env = { WECHAT_MINI_APPID: appid, WECHAT_MINI_SECRET: secret, WECHAT_API_BASE: sim.url, WECHAT_API_FAILOVER: '', MONGODB_URI: dbUri, MONGODB_DB: DB, LOG_LEVEL: 'error', ...BENCH_LIMITS };
    const api = await startChild(join(ROOT, 'bench/product-server.ts'), { ...env, NODE_ENV: 'development' });
    children.push(api);
    const login = async (user: string, expectNew: boolean | null) => {
      const res = await request(`${api.url}/api/auth/mini/login`, { body: { code: await code(user) } });
      if (res.status !== 200) throw new Error(`login → ${res.status} ${res.body.slice(0, 160)}`);
      const body = JSON.parse(res.body) as { token: string; isNewUser: boolean };
      if (expectNew !== null && body.isNewUser !== expectNew) throw new Error(`expected isNewUser=${expectNew}`);
      return body.token;
    };
    // warm-up (untimed): the returning users exist and the process is warm
    const returning = Array.from({ length: N }, (_, i) => `lat-returning${i}`);
    for (const user of returning) await login(user, null);
    const timeOne = async (run: () => Promise<unknown>) => {
      const t0 = performance.now();
      await run();
      return performance.now() - t0;
    };
    const warm: Record<string, number[]> = { returning: [], first: [], me: [] };
    const tokens: string[] = [];
    for (let i = 0; i < N; i++) {
      // what the person waits for is the login request; the code comes from the phone (wx.login), not timed
      const c1 = await code(returning[i]!);
      warm.returning!.push(await timeOne(async () => {
        const res = await request(`${api.url}/api/auth/mini/login`, { body: { code: c1 } });
        if (res.status !== 200) throw new Error(`returning → ${res.status}`);
        tokens.push((JSON.parse(res.body) as { token: string }).token);
      }));
      const c2 = await code(`lat-first${runId}${topo.key}${i}`);
      warm.first!.push(await timeOne(async () => {
        const res = await request(`${api.url}/api/auth/mini/login`, { body: { code: c2 } });
        if (res.status !== 200 || !(JSON.parse(res.body) as { isNewUser: boolean }).isNewUser) throw new Error(`first → ${res.status}`);
      }));
      warm.me!.push(await timeOne(async () => {
        const res = await request(`${api.url}/api/auth/me`, { headers: { authorization: `Bearer ${tokens.at(-1)}` } });
        if (res.status !== 200) throw new Error(`me → ${res.status}`);
      }));
    }
    await api.stop();
    // cold: a fresh process of the built function for each login
    const cold: Record<string, number[]> = { returning: [], first: [], health: [] };
    for (let i = 0; i < COLD; i++) {
      cold.health!.push((await coldOnce(entry, env, '/api/auth/health')).ms);
      cold.returning!.push((await coldOnce(entry, env, '/api/auth/mini/login', { code: await code(returning[i % N]!) })).ms);
      cold.first!.push((await coldOnce(entry, env, '/api/auth/mini/login', { code: await code(`lat-coldfirst${runId}${topo.key}${i}`) })).ms);
    }
    results.push({ label: topo.label, dbMs: topo.dbMs, wechatMs: topo.wechatMs, warm: Object.fromEntries(Object.entries(warm).map(([k, v]) => [k, stats(v)])), cold });
    log(`${topo.key}: warm returning p50 ${stats(warm.returning!).p50.toFixed(0)} ms, cold returning median ${median(cold.returning!).toFixed(0)} ms (load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`);
    // memory: once, on the built function with no added delay
    if (topo.key === 'none') {
      const fn = await serveBuilt(entry, env);
      const m0 = memoryKb(fn.pid);
      let peakRss = m0.rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, memoryKb(fn.pid).rss)), 20);
      const users = Array.from({ length: 400 }, (_, i) => `lat-mem${i}`);
      const codes = async (list: string[]) => Promise.all(list.map(code));
      await pool(await codes(users), 32, async (c) => void (await request(`${fn.url}/api/auth/mini/login`, { body: { code: c } })));
      const t0 = performance.now();
      const r1 = await pool(await codes(Array.from({ length: MEM_N }, (_, i) => users[i % users.length]!)), 32, async (c) => {
        const res = await request(`${fn.url}/api/auth/mini/login`, { body: { code: c } });
        if (res.status !== 200) throw new Error(`mem login → ${res.status}`);
      });
      const r2 = await pool(await codes(Array.from({ length: Math.round(MEM_N / 3) }, (_, i) => `lat-memfirst${runId}${i}`)), 32, async (c) => {
        const res = await request(`${fn.url}/api/auth/mini/login`, { body: { code: c } });
        if (res.status !== 200) throw new Error(`mem first → ${res.status}`);
      });
      clearInterval(sampler);
      const m1 = memoryKb(fn.pid);
      fn.stop();
      memory =
        `built function (bench/cold-launch.mjs on index.func), c=32: ${MEM_N} returning + ${Math.round(MEM_N / 3)} first logins in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
        `(${(r1.latencies.length / r1.seconds).toFixed(0)} / ${(r2.latencies.length / r2.seconds).toFixed(0)} req/s, ${r1.errors + r2.errors} failed): RSS after start ${(m0.rss / 1024).toFixed(0)} MB, ` +
        `peak RSS ${(Math.max(peakRss, m1.hwm) / 1024).toFixed(0)} MB (VmHWM ${(m1.hwm / 1024).toFixed(0)} MB), RSS at the end ${(m1.rss / 1024).toFixed(0)} MB`;
      log(memory);
    }
    await sim.stop();
    await hop.remove();
  }
} finally {
  await Promise.all(children.map((c) => c.stop()));
  await toxi.stop();
  await client.close();
}

const f0 = (n: number) => n.toFixed(0);
const lines = [
  `Node ${process.version}, load before/after ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}; warm: c=1, ${N} of each; cold: ${COLD} fresh processes each (median, min–max).`,
  '',
  '| topology | DB each way | WeChat answer | warm returning p50 / p90 | warm first p50 / p90 | warm `GET /me` p50 | cold returning | cold first | cold `/health` |',
  '|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => {
    const c = (k: string) => `${f0(median(r.cold[k]!))} (${f0(Math.min(...r.cold[k]!))}–${f0(Math.max(...r.cold[k]!))})`;
    return `| ${r.label} | ${r.dbMs} ms | +${r.wechatMs} ms | ${f0(r.warm.returning!.p50)} / ${f0(r.warm.returning!.p90)} | ${f0(r.warm.first!.p50)} / ${f0(r.warm.first!.p90)} | ${f0(r.warm.me!.p50)} | ${c('returning')} | ${c('first')} | ${c('health')} |`;
  }),
  '',
  memory,
];
console.log(lines.join('\n'));
process.exit(0);
