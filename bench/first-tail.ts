// Issue 21, "first-login tail": the product's first login beside the seed-003 handler's, round after
// round, every round reported (req/s and p50/p99 of each side), plus the product API's peak memory.
//
//   MONGODB_URI=mongodb://127.0.0.1:27018/ npx tsx bench/first-tail.ts [--rounds 10] [--n 300] [--returning] [--before <dir>]
//
// Same processes and tables as `npm run bench` (bench/login.bench.ts fills bench_product / bench_seed
// to 100,000 rows; this fills them too when they are not): the simulator, the product API
// (bench/product-server.ts) and the seed-003 handler (bench/seed003-server.ts) in their own
// processes, one load generator, concurrency 32, the sides interleaved (who goes first rotates).
// `--before <dir>`: a third side, another checkout's product API (before/after in the same rounds).
// `--returning` adds a returning-login round for each side after the first logins (the load that
// `npm run bench` puts on the API, for the memory peak). Prints a Markdown table on stdout.
// Memory: the product API process's VmHWM (peak resident set, /proc/<pid>/status) after warm-up and
// at the end, and its RSS sampled every 50 ms during the rounds. Knobs: BENCH_FILLER (100000),
// TAIL_PRODUCT_URI_QUERY (connection-string options for the product sides only, e.g. maxPoolSize=5).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { migrateMongo } from '../packages/server/src/store/mongo.js';
import { BENCH_LIMITS, envNumber, json, percentile, pool, request, startChild, type ChildServer } from './lib.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const ROUNDS = option('rounds', 10);
const N = option('n', 300);
const WITH_RETURNING = args.includes('--returning');
const FILLER = envNumber('BENCH_FILLER', 100_000);
const C = 32;
const uri = process.env.MONGODB_URI?.trim();
if (!uri) {
  console.error('bench/first-tail.ts needs MONGODB_URI');
  process.exit(2);
}
const log = (...a: unknown[]) => console.error('[tail]', ...a);
const appid = 'wxbe0c000000000b21';
const secret = randomBytes(16).toString('hex');
const runId = Date.now().toString(36);

/** Peak and current resident set (KB) of a process, from /proc/<pid>/status. */
function memoryKb(pid: number): { hwm: number; rss: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { hwm: field('VmHWM'), rss: field('VmRSS') };
}

async function fill(database: Db, collection: string, count: number, make: (i: number) => Record<string, unknown>): Promise<void> {
  const meta = database.collection<{ _id: string; n: number }>('bench_filler');
  const have = (await meta.findOne({ _id: collection }))?.n ?? 0;
  if (have >= count) return;
  log(`filling ${database.databaseName}.${collection} to ${count}…`);
  const starts = Array.from({ length: Math.ceil((count - have) / 1000) }, (_, k) => have + k * 1000);
  await pool(starts, 3, async (from) => {
    const docs = Array.from({ length: Math.min(1000, count - from) }, (_, j) => make(from + j));
    await database.collection(collection).insertMany(docs, { ordered: false }).catch((error: { code?: number }) => {
      if (error.code !== 11000) throw error;
    });
  }, { maxErrorRate: 0 });
  await meta.updateOne({ _id: collection }, { $set: { n: count } }, { upsert: true });
}

// The same filler documents as bench/login.bench.ts (the two scripts share the tables).
async function prepare(client: MongoClient) {
  const product = client.db('bench_product');
  const seed = client.db('bench_seed');
  await migrateMongo(product);
  await seed.collection('users').createIndex({ openId: 1 }, { unique: true });
  const now = new Date();
  const later = new Date(now.getTime() + 30 * 86400_000);
  await fill(product, 'users', FILLER, (i) => ({ _id: `u_filler_${i}`, nickname: null, avatarUrl: null, createdAt: now, updatedAt: now }));
  await fill(product, 'identities', FILLER, (i) => ({ _id: `oid:wxf111e7000000000:filler-openid-${i}`, kind: 'oid', userId: `u_filler_${i}`, appid: 'wxf111e7000000000', openid: `filler-openid-${i}`, unionid: null, sessionKey: null, createdAt: now, updatedAt: now }));
  await fill(product, 'sessions', FILLER, (i) => ({ _id: `filler-session-${i.toString(16).padStart(8, '0')}`, userId: `u_filler_${i}`, via: 'mini', createdAt: now, expiresAt: later }));
  await fill(seed, 'users', FILLER, (i) => ({ openId: `filler-openid-${i}`, sessionKey: 'x', userType: 2, status: 1, token: `filler-token-${i}`, userName: null, avatarUrl: null }));
}

type Side = 'product' | 'seed-003' | 'before';
/** --before <dir>: another checkout's product API (git archive <commit> | tar -x -C <dir>, plus a node_modules symlink), a third side in the same rounds */
const BEFORE = args.includes('--before') ? resolve(args[args.indexOf('--before') + 1]!) : null;

async function login(side: Side, url: string, code: string, expectNew: boolean): Promise<void> {
  if (side !== 'seed-003') {
    const res = await request(`${url}/api/auth/mini/login`, { body: { code } });
    if (res.status !== 200) throw new Error(`product login → ${res.status} ${res.body.slice(0, 200)}`);
    if ((JSON.parse(res.body) as { isNewUser: boolean }).isNewUser !== expectNew) throw new Error(`product: expected isNewUser=${expectNew}`);
    return;
  }
  const res = await request(`${url}/api/wxLogin`, { body: { code, avatarUrl: 'https://thirdwx.qlogo.cn/x/132', userName: '微信用户' } });
  if (res.status !== 200) throw new Error(`seed-003 login → ${res.status}`);
  const body = JSON.parse(res.body) as { code: number; data: unknown };
  if (body.code !== 1 || (body.data === null) !== expectNew) throw new Error(`seed-003: expected a ${expectNew ? 'first' : 'returning'} login`);
}

const client = new MongoClient(uri);
const children: ChildServer[] = [];
try {
  await prepare(client);
  const sim = await startChild(join(ROOT, 'bench/sim-server.ts'), { BENCH_APPID: appid, BENCH_SECRET: secret });
  children.push(sim);
  const wechatEnv = { WECHAT_MINI_APPID: appid, WECHAT_MINI_SECRET: secret, WECHAT_API_BASE: sim.url, WECHAT_API_FAILOVER: '' };
  const productEnv = { ...wechatEnv, MONGODB_URI: process.env.TAIL_PRODUCT_URI_QUERY ? `${uri}${uri.includes('?') ? '&' : '?'}${process.env.TAIL_PRODUCT_URI_QUERY}` : uri, MONGODB_DB: 'bench_product', LOG_LEVEL: 'error', NODE_ENV: 'development', ...BENCH_LIMITS };
  const servers: Partial<Record<Side, ChildServer>> = {
    // TAIL_PRODUCT_URI_QUERY: connection-string options for the product only (an experiment, e.g. maxPoolSize=5)
    product: await startChild(join(ROOT, 'bench/product-server.ts'), productEnv),
    'seed-003': await startChild(join(ROOT, 'bench/seed003-server.ts'), { ...wechatEnv, MONGODB_URI: uri, BENCH_SEED_DB: 'bench_seed' }),
  };
  if (BEFORE) servers.before = await startChild(join(BEFORE, 'bench/product-server.ts'), productEnv);
  const sides = Object.keys(servers) as Side[];
  children.push(...Object.values(servers));
  const codes = async (users: string[]) => {
    const out: string[] = [];
    await pool(users, C, async (user) => void out.push((await json<{ code: string }>(`${sim.url}/__sim/mini/code`, { body: { appid, user } })).code));
    return out;
  };
  const url = (side: Side) => servers[side]!.url;
  const productPid = servers.product!.pid;
  const memStart = memoryKb(productPid);
  // Warm both sides (JIT, pools): returning users log in (first time: they are created), twice.
  const returning = Array.from({ length: 400 }, (_, i) => `returning${i}`);
  for (const side of sides) {
    for (let pass = 0; pass < 2; pass++) {
      await pool(await codes(returning), C, async (code) => {
        await login(side, url(side), code, false).catch((error) => {
          if (!String(error).includes('expected')) throw error;
        });
      });
    }
  }
  const memWarm = memoryKb(productPid);
  let rssPeakSampled = memWarm.rss;
  const sampler = setInterval(() => (rssPeakSampled = Math.max(rssPeakSampled, memoryKb(productPid).rss)), 50);
  const rows: { round: number; side: Side; kind: string; rps: number; p50: number; p99: number; max: number; errors: number }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // who goes first rotates, so no side always runs on a warmer or cooler machine
    const order: Side[] = sides.map((_, k) => sides[(k + round) % sides.length]!);
    for (const side of order) {
      const cs = await codes(Array.from({ length: N }, (_, i) => `first${runId}r${round}${side[0]}${i}`));
      const r = await pool(cs, C, (code) => login(side, url(side), code, true));
      const sorted = [...r.latencies].sort((a, b) => a - b);
      rows.push({ round, side, kind: 'first', rps: sorted.length / r.seconds, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1)!, errors: r.errors });
    }
    if (WITH_RETURNING) {
      for (const side of order) {
        const cs = await codes(Array.from({ length: 800 }, (_, i) => returning[(i * 7 + round) % returning.length]!));
        const r = await pool(cs, C, (code) => login(side, url(side), code, false));
        const sorted = [...r.latencies].sort((a, b) => a - b);
        rows.push({ round, side, kind: 'returning', rps: sorted.length / r.seconds, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1)!, errors: r.errors });
      }
    }
    const last = rows.filter((x) => x.round === round && x.kind === 'first');
    log(`round ${round}: ${last.map((x) => `${x.side} ${x.rps.toFixed(0)} req/s p99 ${x.p99.toFixed(0)} ms`).join(' | ')} — load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
  }
  clearInterval(sampler);
  const memEnd = memoryKb(productPid);

  const f0 = (n: number) => n.toFixed(0);
  const out: string[] = [];
  for (const kind of WITH_RETURNING ? ['first', 'returning'] : ['first']) {
    out.push(`\n${kind} logins, c=${C}, ${kind === 'first' ? N : 800} per side per round:\n`);
    out.push(
      `| round | product req/s | seed req/s | throughput ratio | product p50 / p99 / max ms | seed p50 / p99 / max ms | p99 ratio |${BEFORE ? ' before req/s | before p50 / p99 / max ms | before throughput / p99 ratio |' : ''}`,
      `|---|---|---|---|---|---|---|${BEFORE ? '---|---|---|' : ''}`,
    );
    const ratiosT: number[] = [];
    const ratiosP: number[] = [];
    const ratiosBT: number[] = [];
    const ratiosBP: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const p = rows.find((x) => x.round === round && x.side === 'product' && x.kind === kind)!;
      const s = rows.find((x) => x.round === round && x.side === 'seed-003' && x.kind === kind)!;
      ratiosT.push(p.rps / s.rps);
      ratiosP.push(p.p99 / s.p99);
      const b = rows.find((x) => x.round === round && x.side === 'before' && x.kind === kind);
      if (b) (ratiosBT.push(b.rps / s.rps), ratiosBP.push(b.p99 / s.p99));
      const beforeCells = b ? ` ${f0(b.rps)} | ${f0(b.p50)} / ${f0(b.p99)} / ${f0(b.max)} | ${(b.rps / s.rps).toFixed(2)}× / ${(b.p99 / s.p99).toFixed(2)}× |` : '';
      out.push(`| ${round} | ${f0(p.rps)} | ${f0(s.rps)} | ${(p.rps / s.rps).toFixed(2)}× | ${f0(p.p50)} / ${f0(p.p99)} / ${f0(p.max)} | ${f0(s.p50)} / ${f0(s.p99)} / ${f0(s.max)} | ${(p.p99 / s.p99).toFixed(2)}× |${beforeCells}`);
    }
    const all = (side: Side) => rows.filter((x) => x.side === side && x.kind === kind);
    const sum = (side: Side) => all(side).reduce((a, x) => a + x.rps, 0) / ROUNDS;
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    out.push(`| **median of rounds** | ${f0(med(all('product').map((x) => x.rps)))} | ${f0(med(all('seed-003').map((x) => x.rps)))} | **${med(ratiosT).toFixed(2)}×** (mean of rates ${(sum('product') / sum('seed-003')).toFixed(2)}×) | p99 ${f0(med(all('product').map((x) => x.p99)))} | p99 ${f0(med(all('seed-003').map((x) => x.p99)))} | **${med(ratiosP).toFixed(2)}×** |${BEFORE ? ` ${f0(med(all('before').map((x) => x.rps)))} | p99 ${f0(med(all('before').map((x) => x.p99)))} | **${med(ratiosBT).toFixed(2)}× / ${med(ratiosBP).toFixed(2)}×** |` : ''}`);
    if (BEFORE) out.push(`\nbefore: rounds with p99 > seed p99: ${ratiosBP.filter((r) => r > 1).length} of ${ROUNDS}; rounds with throughput < 1.3×: ${ratiosBT.filter((r) => r < 1.3).length} of ${ROUNDS}`);
    out.push(`\nrounds with product p99 > seed p99: ${ratiosP.filter((r) => r > 1).length} of ${ROUNDS}; rounds with throughput < 1.3×: ${ratiosT.filter((r) => r < 1.3).length} of ${ROUNDS}; errors: product ${all('product').reduce((a, x) => a + x.errors, 0)}, seed ${all('seed-003').reduce((a, x) => a + x.errors, 0)}`);
  }
  out.push(
    `\nproduct API memory (MB, /proc/<pid>/status): at start RSS ${(memStart.rss / 1024).toFixed(0)}; after warm-up peak ${(memWarm.hwm / 1024).toFixed(0)}; ` +
      `during the rounds RSS max (50 ms samples) ${(rssPeakSampled / 1024).toFixed(0)}; whole-process peak VmHWM ${(memEnd.hwm / 1024).toFixed(0)}`,
  );
  console.log(out.join('\n'));
} finally {
  await Promise.all(children.map((c) => c.stop()));
  await client.close();
}
process.exit(0);
