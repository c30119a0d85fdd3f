// `npm run bench:cold` (issue 21): the first login after idle, side by side in ONE run — a cold
// returning mini login on the BUILT api/index function (`vercel build`) beside a hello-world Hono
// function's cold start and `GET /api/auth/health`, interleaved round by round, each a fresh Node
// process (spawn → first 200, bench/cold-launch.mjs). With COLD_BEFORE=<git rev> the same function is
// also run with that revision's package dist in place of today's ("before"), in the same rounds.
// Then a few traced runs (COLD_TRACE=1 in the launcher) give the breakdown: where a cold login's
// time goes, observed from outside the function (Node's diagnostics channels, the driver's events).
//
//   MONGODB_URI=mongodb://127.0.0.1:27018/ COLD_BEFORE=54a357f npm run bench:cold
//
// Knobs: COLD_RUNS (rounds, 15), COLD_TRACE_RUNS (5), COLD_BEFORE (a git revision; unset: no
// "before"), COLD_WECHAT_MS (WeChat's answers that much later, 0), BENCH_SKIP_BUILD=1 (reuse
// .vercel/output), COLD_DB (database, bench_cold).
// Prints markdown; writes nothing. Not a test: numbers are reported, never asserted.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { MongoClient } from 'mongodb';
import { BUNDLE_OPTIONS, DRIVER_OPTIONAL, REQUIRE_BANNER } from '../scripts/lib/bundle-options.mjs';
import { migrateMongo } from '../packages/server/src/store/mongo.js';
import { buildFloor, buildHello, buildProduct, coldOnce, funcEntry, type ColdResult } from './cold.js';
import { envNumber, json, median, startChild } from './lib.js';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = envNumber('COLD_RUNS', 15);
const TRACE_RUNS = envNumber('COLD_TRACE_RUNS', 5);
const BEFORE = process.env.COLD_BEFORE?.trim() || null;
const DB = process.env.COLD_DB ?? 'bench_cold';
const WECHAT_MS = envNumber('COLD_WECHAT_MS', 0);
const log = (...args: unknown[]) => console.error('[cold]', ...args);
const uri = process.env.MONGODB_URI?.trim();
if (!uri) {
  console.error('npm run bench:cold needs MONGODB_URI (e.g. mongodb://127.0.0.1:27018/)');
  process.exit(2);
}

/**
 * A self-contained copy of a built function, laid out as Vercel deploys it: its files, plus
 * node_modules/wlu-wxlogin-server → packages/server (the .vc-config.json filePathMap), so nothing
 * resolves into the repository. `dist`: another build of the package in place of the traced one.
 */
function functionCopy(funcDir: string, into: string, dist?: string): string {
  cpSync(funcDir, into, { recursive: true });
  mkdirSync(join(into, 'node_modules'), { recursive: true });
  symlinkSync('../packages/server', join(into, 'node_modules/wlu-wxlogin-server'));
  if (dist) {
    rmSync(join(into, 'packages/server/dist'), { recursive: true, force: true });
    cpSync(dist, join(into, 'packages/server/dist'), { recursive: true });
    // what that build leaves external and today's function no longer carries (before issue 21: hono),
    // copied as `vercel build` would have traced it then
    const text = readdirSync(dist, { recursive: true }).filter((f) => String(f).endsWith('.js')).map((f) => readFileSync(join(dist, String(f)), 'utf8')).join('\n');
    const bare = new Set([...text.matchAll(/(?:from|import\()\s*["']((?:@[\w.-]+\/)?[\w.-]+)/g)].map((m) => m[1]!).filter((n) => !n.startsWith('node:') && !n.startsWith('.')));
    for (const name of bare) {
      if (!existsSync(join(into, 'node_modules', name)) && existsSync(join(ROOT, 'node_modules', name))) cpSync(join(ROOT, 'node_modules', name), join(into, 'node_modules', name), { recursive: true, dereference: true });
    }
  }
  return funcEntry(into);
}

/**
 * The package's JS dist at git revision `rev`, built as packages/server/scripts/build.mjs built it
 * before issue 21 (same entries, options and externals; no declarations). The sources are unpacked
 * under .cache/ so the bundled MongoDB driver and zod resolve from the repository's node_modules.
 * Meant for revisions before issue 21: it does not apply that build's whatwg-url alias nor bundle
 * the login's body schema apart, so a later revision is built without them.
 */
async function distAt(rev: string): Promise<string> {
  const dir = join(ROOT, '.cache', `cold-before-${rev.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tar = execFileSync('git', ['archive', rev, 'packages/server', 'shared'], { cwd: ROOT, maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  const pkgDir = join(dir, 'packages/server');
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const entries = ['index', 'node', 'next', 'vercel', 'mongodb'].filter((e) => existsSync(join(pkgDir, `src/${e}.ts`)));
  await build({
    absWorkingDir: pkgDir,
    entryPoints: Object.fromEntries(entries.map((e) => [e, `src/${e}.ts`])),
    outdir: join(pkgDir, 'dist'),
    chunkNames: 'chunks/[name]-[hash]',
    ...BUNDLE_OPTIONS,
    external: [
      ...[...Object.keys(pkg.dependencies ?? {}), 'sharp', 'ip2region'].flatMap((n) => [n, `${n}/*`]),
      ...DRIVER_OPTIONAL,
    ],
    banner: REQUIRE_BANNER,
  });
  return join(pkgDir, 'dist');
}

/**
 * COLD_WECHAT_MS: WeChat's answers `ms` later (a relay in front of the simulator that holds each
 * answer), so the overlap of the code exchange with the database connection shows as it would with
 * WeChat a network away. The simulator itself answers in ~1 ms.
 */
async function delayRelay(target: string, ms: number): Promise<{ url: string; close(): void }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const upstream = await fetch(new URL(req.url ?? '/', target), { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'application/json' }, body: chunks.length ? Buffer.concat(chunks) : undefined });
    const body = Buffer.from(await upstream.arrayBuffer());
    setTimeout(() => res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(body), ms);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const appid = 'wxbe0c000000000c21';
const secret = randomBytes(16).toString('hex');
const load = () => loadavg()[0]!.toFixed(2);
log(`1-minute load at start: ${load()}`);

log('building: vercel build (product), hello-world' + (BEFORE ? `, package dist at ${BEFORE}` : ''));
const funcs = process.env.BENCH_SKIP_BUILD ? join(ROOT, '.vercel/output/functions/api') : buildProduct();
const hello = await buildHello();
const floor = await buildFloor();
const work = mkdtempSync(join(tmpdir(), 'bench-cold-'));
const after = functionCopy(join(funcs, 'index.func'), join(work, 'after'));
const before = BEFORE ? functionCopy(join(funcs, 'index.func'), join(work, 'before'), await distAt(BEFORE)) : null;
const helloEntry = funcEntry(hello.funcDir);
const floorEntry = funcEntry(floor.funcDir);

const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
await migrateMongo(client.db(DB));
await client.close();
const sim = await startChild(join(ROOT, 'bench/sim-server.ts'), { BENCH_APPID: appid, BENCH_SECRET: secret, BENCH_SIM_SEED: 'cold-login' });
const relay = WECHAT_MS > 0 ? await delayRelay(sim.url, WECHAT_MS) : null;
const env = { WECHAT_MINI_APPID: appid, WECHAT_MINI_SECRET: secret, WECHAT_API_BASE: relay?.url ?? sim.url, WECHAT_API_FAILOVER: '', MONGODB_URI: uri, MONGODB_DB: DB, LOG_LEVEL: 'error' };
const code = async () => (await json<{ code: string }>(`${sim.url}/__sim/mini/code`, { body: { appid, user: 'cold-returning' } })).code;

type Kind = 'hello' | 'floor' | 'health' | 'login' | 'healthBefore' | 'loginBefore';
const kinds: Kind[] = before ? ['hello', 'floor', 'health', 'login', 'healthBefore', 'loginBefore'] : ['hello', 'floor', 'health', 'login'];
const runOne = async (kind: Kind, extra: Record<string, string> = {}): Promise<ColdResult> => {
  const entry = kind === 'hello' ? helloEntry : kind.endsWith('Before') ? before! : after;
  if (kind === 'hello') return coldOnce(entry, extra, '/api/hello');
  if (kind === 'floor') return coldOnce(floorEntry, { MONGODB_URI: uri, MONGODB_DB: DB, ...extra }, '/api/floor', {});
  if (kind.startsWith('health')) return coldOnce(entry, { ...env, ...extra }, '/api/auth/health');
  return coldOnce(entry, { ...env, ...extra }, '/api/auth/mini/login', { code: await code() });
};

const results: Record<Kind, ColdResult[]> = { hello: [], floor: [], health: [], login: [], healthBefore: [], loginBefore: [] };
const traces: Record<'login' | 'loginBefore', [string, number][][]> = { login: [], loginBefore: [] };
try {
  // the person's first login (creates the account); every timed login below is a returning one
  await runOne('login');
  for (const kind of kinds) await runOne(kind); // page cache warm for every file of every variant
  const loads: string[] = [];
  for (let round = 0; round < RUNS; round++) {
    // rotate the order so no variant always runs right after another
    const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
    for (const kind of order) results[kind].push(await runOne(kind));
    loads.push(load());
  }
  for (let i = 0; i < TRACE_RUNS; i++) {
    for (const kind of before ? (['login', 'loginBefore'] as const) : (['login'] as const)) {
      const r = await runOne(kind, { COLD_TRACE: '1' });
      traces[kind].push([...(r.trace ?? []), ['total', r.ms]]);
    }
  }
  console.log(report(loads));
} finally {
  await sim.stop();
  relay?.close();
  hello.cleanup();
  floor.cleanup();
  rmSync(work, { recursive: true, force: true });
}

function report(loads: string[]): string {
  const f0 = (n: number) => n.toFixed(0);
  const med = (k: Kind) => median(results[k].map((r) => r.ms));
  // per-round ratio to that round's hello-world, then the median: robust to drifts in load
  const ratio = (k: Kind) => median(results[k].map((r, i) => r.ms / results.hello[i]!.ms));
  const names: Record<Kind, string> = {
    hello: 'hello-world Hono',
    floor: 'floor: hello-world + MongoDB driver, connect, find + insert',
    health: '`GET /api/auth/health` (after)',
    login: 'cold returning login (after)',
    healthBefore: `\`GET /api/auth/health\` (before, ${BEFORE})`,
    loginBefore: `cold returning login (before, ${BEFORE})`,
  };
  const rows = kinds.map((k) => `| ${names[k]} | ${f0(med(k))} ms | ${ratio(k).toFixed(2)}× | ${f0(median(results[k].map((r) => r.importMs)))} ms | ${results[k].every((r) => r.mongodbLoaded) ? 'yes' : results[k].some((r) => r.mongodbLoaded) ? 'some' : 'no'} |`);
  const lines = [
    `${RUNS} interleaved rounds (order rotated each round), WeChat answering ${WECHAT_MS ? `${WECHAT_MS} ms late (COLD_WECHAT_MS)` : 'at once (the simulator, ~1 ms)'}, median; ratio = median of each round's ratio to that round's hello-world. 1-minute load per round: ${loads.join(', ')}.`,
    '',
    '| function | spawn → first 200 | vs hello-world | process start + import | MongoDB driver loaded |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    // what the product controls: its distance above the floor, per round (the floor is what any
    // MongoDB-backed cold login pays: the driver, a connection, two round trips)
    `Above the floor (median of each round's difference): login ${f0(median(results.login.map((r, i) => r.ms - results.floor[i]!.ms)))} ms` +
      (before ? `; before (${BEFORE}) ${f0(median(results.loginBefore.map((r, i) => r.ms - results.floor[i]!.ms)))} ms` : '') +
      '.',
    '',
    `Breakdown (${TRACE_RUNS} traced runs each, COLD_TRACE=1; ms since the process started, median per event; the tracing itself adds a little):`,
    '',
    breakdown(),
  ];
  return lines.join('\n');
}

function breakdown(): string {
  const variants = (before ? (['loginBefore', 'login'] as const) : (['login'] as const)).filter((k) => traces[k].length);
  const events = new Map<string, number>();
  for (const k of variants) for (const t of traces[k]) for (const [e] of t) if (!events.has(e)) events.set(e, events.size);
  // an event's time: its FIRST occurrence in a run; median over the runs that have it
  const at = (k: 'login' | 'loginBefore', e: string) => {
    const xs = traces[k].map((t) => t.find(([name]) => name === e)?.[1]).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : null;
  };
  const ordered = [...events.keys()].sort((a, b) => (at(variants.at(-1)!, a) ?? at(variants[0]!, a) ?? 1e9) - (at(variants.at(-1)!, b) ?? at(variants[0]!, b) ?? 1e9));
  const head = `| event | ${variants.map((k) => (k === 'login' ? 'after' : `before (${BEFORE})`)).join(' | ')} |`;
  const sep = `|---|${variants.map(() => '---').join('|')}|`;
  const rows = ordered.map((e) => `| ${e === 'total' ? 'spawn → 200 (parent)' : e} | ${variants.map((k) => (at(k, e) === null ? '—' : `${at(k, e)!.toFixed(1)}`)).join(' | ')} |`);
  return [head, sep, ...rows].join('\n');
}
