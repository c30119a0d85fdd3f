// `npx tsx bench/profile-login.ts`: where the API process spends its CPU on a returning mini login
// (`--first`: on a first login, a new user each).
//
// Starts the WeChat simulator (bench/sim-server.ts) and the product API (bench/product-server.ts) in
// their own processes on MONGODB_URI / bench_product (the tables `npm run bench` fills; users
// returning0..399 logged in before), then runs N returning logins at concurrency 32, twice:
//   1. plain: CPU ms per login of the API process (/proc/<pid>/stat, user + system), no profiler;
//   2. profiled: the same API started with `node --cpu-prof` (NODE_OPTIONS refuses it, so it is an
//      exec argument); the profile is cut to the timed window and its self time is printed by module
//      and by function.
// Knobs: --n 4000 (logins per run), --rounds 1 (plain runs; their median is printed), --no-profile,
// --top 25 (rows per table), --keep (keep the .cpuprofile; its path is printed), --json (one summary line),
// --compare <dir>: also run the product server of another checkout (e.g. `git archive <commit> | tar -x -C
// <dir>` plus a node_modules symlink) AT THE SAME TIME as this one's (c=32 each, same simulator, same
// database): a before/after that both sides measure on the same machine state. Their req/s then share
// the machine and are not comparable with a single run's.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { json, median, percentile, pool, request } from './lib.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = option('n', 4000);
const COMPARE = args.includes('--compare') ? resolve(args[args.indexOf('--compare') + 1]!) : null;
const ROUNDS = option('rounds', 1);
const TOP = option('top', 25);
const C = 32;
const POOL = 400;
/** --first: first logins (a new user each) instead of returning ones */
const FIRST = flag('first');
const RUN = Date.now().toString(36);
let firstSeq = 0;
const uri = process.env.MONGODB_URI?.trim();
if (!uri) {
  console.error('bench/profile-login.ts needs MONGODB_URI (FerretDB: mongodb://127.0.0.1:27018/) with bench_product filled by `npm run bench`');
  process.exit(2);
}
const log = (...a: unknown[]) => console.error('[profile]', ...a);

/** User and system CPU ms of a process so far (/proc/<pid>/stat utime, stime; 10 ms ticks). */
function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A child server (prints `{"url": …}` when listening), with extra node arguments before the script. */
async function start(script: string, env: Record<string, string | undefined>, nodeArgs: string[] = [], root = ROOT): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(root, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<{ url: string }>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`${script} exited with ${code} before listening`)));
    lines.once('line', (line) => ok(JSON.parse(line)));
  });
  return {
    url: info.url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

const appid = 'wxbe0c000000000b01'; // the bench's app: returning users exist under it in bench_product
const secret = randomBytes(16).toString('hex');
const sim = await start('bench/sim-server.ts', { BENCH_APPID: appid, BENCH_SECRET: secret });
const productEnv = {
  WECHAT_MINI_APPID: appid,
  WECHAT_MINI_SECRET: secret,
  WECHAT_API_BASE: sim.url,
  WECHAT_API_FAILOVER: '',
  MONGODB_URI: uri,
  MONGODB_DB: 'bench_product',
  LOG_LEVEL: 'error',
  NODE_ENV: 'development',
  RATE_LIMIT_PER_ADDRESS: '1000000',
  RATE_LIMIT_PER_APPID: '10000000',
};

async function codes(count: number, offset: number): Promise<string[]> {
  const out: string[] = new Array(count);
  await pool(
    Array.from({ length: count }, (_, i) => i),
    C,
    async (i) => {
      out[i] = (await json<{ code: string }>(`${sim.url}/__sim/mini/code`, { body: { appid, user: FIRST ? `first-${RUN}-${firstSeq++}` : `returning${(i * 7 + offset) % POOL}` } })).code;
    },
  );
  return out.filter((code) => code !== undefined); // a failed call (counted by pool) has no code
}

let resets = 0;
async function logins(api: Child, cs: string[]) {
  return pool(cs, C, async (code) => {
    const res = await request(`${api.url}/api/auth/mini/login`, { body: { code } }).catch((error: NodeJS.ErrnoException) => {
      // A keep-alive socket the server closed as it was reused (the load generator's side of the
      // race): counted, not fatal; many of them are.
      if (error.code !== 'ECONNRESET' || ++resets > cs.length / 100) throw error;
      return null;
    });
    if (!res) return;
    if (res.status !== 200) throw new Error(`login → ${res.status} ${res.body.slice(0, 200)}`);
    if ((JSON.parse(res.body) as { isNewUser: boolean }).isNewUser !== FIRST) throw new Error(FIRST ? 'expected a new user' : 'expected a returning user (run `npm run bench` once to fill bench_product)');
  });
}

type Result = { cpu: number; user: number; system: number; rps: number; p50: number; window: readonly [number, number] };

/**
 * API processes side by side (one per checkout in `roots`), each warmed up (untimed), then N timed
 * logins against EACH at the same time (c=32 each): both see the same machine while they are
 * measured, which the sequential runs of a shared 2-core machine do not. Returns per process the CPU
 * ms per login and the timed window.
 */
async function run(nodeArgs: string[], offset: number, roots: string[] = [ROOT]): Promise<Result[]> {
  const apis: Child[] = [];
  try {
    for (const root of roots) apis.push(await start('bench/product-server.ts', productEnv, nodeArgs, root));
    // Every code first, then warm-up and timing back to back: a keep-alive socket left idle longer than
    // the server's keepAliveTimeout (5 s) may be closed just as the load generator reuses it.
    const warm: string[][] = [];
    const batches: string[][] = [];
    for (const _ of apis) warm.push(await codes(Math.min(N, 1000), offset + 1));
    for (const _ of apis) batches.push(await codes(N, offset));
    await Promise.all(apis.map((api, i) => logins(api, warm[i]!)));
    return await Promise.all(
      apis.map(async (api, i) => {
        const cpu0 = cpuSplit(api.pid);
        const from = process.hrtime.bigint();
        const { latencies, seconds } = await logins(api, batches[i]!);
        const to = process.hrtime.bigint();
        const cpu1 = cpuSplit(api.pid);
        const user = (cpu1.user - cpu0.user) / N;
        const system = (cpu1.system - cpu0.system) / N;
        const sorted = latencies.sort((x, y) => x - y);
        return { cpu: user + system, user, system, rps: N / seconds, p50: percentile(sorted, 0.5), window: [Number(from / 1000n), Number(to / 1000n)] as const };
      }),
    );
  } finally {
    await Promise.all(apis.map((api) => api.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// .cpuprofile → self time by module and by function, inside the timed window

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: an npm package, a node built-in, our own file, or a V8 pseudo-frame. */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(deps\/)?/, 'node:').replace(/\/.*$/, '').replace(/\.js$/, '');
  const ours = url.indexOf('/packages/server/src/');
  if (ours >= 0) return `packages/server/src/${url.slice(ours + 21).split('/')[0]!.replace(/\.ts$/, '')}`;
  if (url.includes('/bench/')) return 'bench';
  return url.replace(/^file:\/\//, '');
}

function analyse(profile: CpuProfile, window: readonly [number, number] | null) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let total = 0;
  let inWindow = 0;
  // timeDeltas[i] is the time before sample i; it is charged to the sample it precedes (as DevTools does).
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    total += delta;
    if (window && (t < window[0] || t > window[1])) return;
    inWindow += delta;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** The first npm package or file of ours on the stack: who asked for this node-internal or native work. */
  const owner = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.url && !f.url.startsWith('node:')) return moduleOf(f.url, f.functionName);
    }
    return moduleOf(byId.get(id)!.callFrame.url, byId.get(id)!.callFrame.functionName);
  };
  const modules = new Map<string, number>();
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const mod = moduleOf(frame.url, frame.functionName);
    modules.set(mod, (modules.get(mod) ?? 0) + us);
    const who = owner(id);
    owners.set(who, (owners.get(who) ?? 0) + us);
    const file = frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(api|bench)\//, '$1/');
    const fn = `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  return { modules, owners, functions, busy, coverage: total ? inWindow / total : 0 };
}

function table(title: string, rows: Map<string, number>, busy: number) {
  const sorted = [...rows].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  console.log(`\n${title} (self time, ms per login, % of busy samples)`);
  for (const [name, us] of sorted) console.log(`${(us / 1000 / N).toFixed(3).padStart(7)}  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`);
}

// ---------------------------------------------------------------------------------------------

const summary: Record<string, unknown> = { n: N, node: process.version };
try {
  const plain: Result[] = [];
  const other: Result[] = [];
  const line = (label: string, p: Result) =>
    `${label}: ${p.cpu.toFixed(3)} ms CPU per login (user ${p.user.toFixed(3)} + system ${p.system.toFixed(3)}), ${p.rps.toFixed(0)} req/s, p50 ${p.p50.toFixed(1)} ms`;
  for (let r = 0; r < ROUNDS; r++) {
    // with --compare both run at once; alternate which one starts (and warms up) first
    const roots = COMPARE ? (r % 2 ? [COMPARE, ROOT] : [ROOT, COMPARE]) : [ROOT];
    const results = await run([], r, roots);
    roots.forEach((root, i) => {
      (root === ROOT ? plain : other).push(results[i]!);
      log(line(`round ${r + 1}/${ROUNDS} ${root === ROOT ? 'this checkout' : COMPARE}`, results[i]!));
    });
  }
  summary.cpuMsPerLogin = median(plain.map((p) => p.cpu));
  summary.cpuRuns = plain.map((p) => Number(p.cpu.toFixed(3)));
  summary.rps = median(plain.map((p) => p.rps));
  summary.userMs = median(plain.map((p) => p.user));
  summary.systemMs = median(plain.map((p) => p.system));
  console.log(`API CPU per returning login (no profiler, median of ${ROUNDS}): ${(summary.cpuMsPerLogin as number).toFixed(3)} ms (/proc utime+stime, 10 ms ticks over ${N} logins; medians: user ${(summary.userMs as number).toFixed(3)}, system ${(summary.systemMs as number).toFixed(3)}); ${(summary.rps as number).toFixed(0)} req/s at c=${C}`);
  if (COMPARE) {
    summary.compare = { dir: COMPARE, cpuMsPerLogin: median(other.map((p) => p.cpu)), cpuRuns: other.map((p) => Number(p.cpu.toFixed(3))), rps: median(other.map((p) => p.rps)), userMs: median(other.map((p) => p.user)), systemMs: median(other.map((p) => p.system)) };
    const o = summary.compare as { cpuMsPerLogin: number; rps: number };
    console.log(`${COMPARE} (interleaved): ${o.cpuMsPerLogin.toFixed(3)} ms; ${o.rps.toFixed(0)} req/s — this checkout / that one: CPU ${((summary.cpuMsPerLogin as number) / o.cpuMsPerLogin).toFixed(2)}×, req/s ${((summary.rps as number) / o.rps).toFixed(2)}×`);
  }

  if (!flag('no-profile')) {
    const dir = mkdtempSync(join(tmpdir(), 'api-cpu-prof-'));
    const [profiled] = await run(['--cpu-prof', `--cpu-prof-dir=${dir}`], ROUNDS);
    // one file per thread (tsx's loader runs on its own): the main thread's is CPU.<date>.<time>.<pid>.0.<n>
    const file = readdirSync(dir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f)) ?? readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    // V8's profile clock and process.hrtime are both CLOCK_MONOTONIC (µs): the window applies as is.
    let result = analyse(profile, profiled!.window);
    if (result.coverage === 0) {
      log('the timed window matched no samples (clocks differ?): the whole profile is shown');
      result = analyse(profile, null);
    }
    console.log(`\nProfiled run (--cpu-prof, sampling adds overhead): ${profiled!.cpu.toFixed(3)} ms CPU per login; samples in the timed window: ${(100 * result.coverage).toFixed(0)}% of the profile; busy ${(result.busy / 1000 / N).toFixed(3)} ms per login`);
    table('By module', result.modules, result.busy);
    table('By owner: node internals and native code charged to the first package / file of ours on the stack', result.owners, result.busy);
    table('By function', result.functions, result.busy);
    summary.profiledCpuMsPerLogin = profiled!.cpu;
    summary.owners = Object.fromEntries([...result.owners].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, v]) => [k, Number((v / 1000 / N).toFixed(4))]));
    summary.modules = Object.fromEntries([...result.modules].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, v]) => [k, Number((v / 1000 / N).toFixed(4))]));
    if (flag('keep')) log(`profile kept: ${join(dir, file)}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  if (resets) log(`${resets} login(s) lost to a reset keep-alive socket of the load generator`);
  if (flag('json')) console.log(JSON.stringify(summary));
} finally {
  await sim.stop();
}
process.exit(0);
