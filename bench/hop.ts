// Issue 19 reproduction: the returning-login load with the database one TCP hop away.
//
//   MONGODB_URI=mongodb://127.0.0.1:27028/ npx tsx bench/hop.ts
//
// Processes: this load generator (also the relay), the WeChat simulator, the product API
// (bench/product-server.ts, MongoDB store). The relay is the plain one from the issue
// (net.connect + pipe both ways). Knobs: HOP_RELAY (node|none), HOP_USERS (50), HOP_N (200),
// HOP_C (8), HOP_MAX_S (120: the whole load is abandoned after this).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { BENCH_LIMITS, envNumber as num, json, percentile, pool, request, startChild, type ChildServer } from './lib.js';

const ROOT = resolve(import.meta.dirname, '..');
const USERS = num('HOP_USERS', 50);
const N = num('HOP_N', 200);
const C = num('HOP_C', 8);
const MAX_S = num('HOP_MAX_S', 120);
const RELAY = process.env.HOP_RELAY ?? 'node';
const target = process.env.MONGODB_URI!;
if (!target) throw new Error('MONGODB_URI');
const log = (...args: unknown[]) => console.error('[hop]', ...args);

/** The 6-line relay of the issue; HOP_DELAY_MS delays every chunk by that much in each direction. */
const DELAY = num('HOP_DELAY_MS', 0);
const delayed = () =>
  new Transform({
    transform(chunk, _enc, done) {
      setTimeout(() => {
        this.push(chunk);
      }, DELAY);
      done();
    },
  });
function startRelay(host: string, port: number): Promise<number> {
  const server = createServer((client) => {
    const upstream = connect(port, host);
    if (DELAY) client.pipe(delayed()).pipe(upstream).pipe(delayed()).pipe(client);
    else client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port)));
}

const t = new URL(target.replace(/^mongodb:/, 'http:'));
let uri = target;
if (RELAY === 'node') {
  const port = await startRelay(t.hostname, Number(t.port));
  uri = `mongodb://127.0.0.1:${port}/${t.search}`;
  log(`relay 127.0.0.1:${port} → ${t.host}`);
}

const appid = 'wxbe0c000000000b19';
const secret = randomBytes(16).toString('hex');
const children: ChildServer[] = [];
const db = `hop_${Date.now().toString(36)}`;
try {
  let apiUrl: string;
  let simUrl: string;
  let simAppid = appid;
  if (process.env.HOP_API === 'dev') {
    // `npm run dev:api` as the issue ran it: the API (request log on stdout) with the simulator bin as its child
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts', '--no-h5'], {
      cwd: ROOT,
      env: { ...process.env, MONGODB_URI: uri, MONGODB_DB: db, PORT: '3319', WECHAT_SIM_PORT: '3419', DATA_DIR: `/tmp/${db}`, CLIENT_ADDRESS_HEADER: 'x-forwarded-for' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    const banner: string[] = [];
    await new Promise<void>((done) => lines.on('line', (line) => { banner.push(line); if (/mini-program appid/.test(line)) done(); if (process.env.HOP_API_LOG) console.error(line); }));
    apiUrl = /API\s+(http:\S+)/.exec(banner.join('\n'))![1]!;
    simUrl = /模拟器\s+(http:\S+)/.exec(banner.join('\n'))![1]!;
    simAppid = /mini-program appid (wx[0-9a-f]{16})/.exec(banner.join('\n'))![1]!;
    children.push({ url: apiUrl, pid: child.pid!, info: {}, stop: () => new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }) });
  } else {
    const sim = await startChild(join(ROOT, 'bench/sim-server.ts'), { BENCH_APPID: appid, BENCH_SECRET: secret });
    children.push(sim);
    const api = await startChild(join(ROOT, 'bench/product-server.ts'), {
      WECHAT_MINI_APPID: appid,
      WECHAT_MINI_SECRET: secret,
      WECHAT_API_BASE: sim.url,
      WECHAT_API_FAILOVER: '',
      MONGODB_URI: uri,
      MONGODB_DB: db,
      LOG_LEVEL: process.env.HOP_LOG_LEVEL ?? 'error',
      NODE_ENV: 'development',
      ...BENCH_LIMITS,
    });
    children.push(api);
    apiUrl = api.url;
    simUrl = sim.url;
  }
  const users = Array.from({ length: USERS }, (_, i) => `hop${i}`);
  const address = (user: string) => ({ 'x-forwarded-for': `10.0.${Number(user.slice(3)) >> 8}.${Number(user.slice(3)) & 255}` });
  const code = async (user: string) => (await json<{ code: string }>(`${simUrl}/__sim/mini/code`, { body: { appid: simAppid, user } })).code;
  // first logins (sequential: creating the users is not what is measured)
  for (const user of users) {
    const res = await request(`${apiUrl}/api/auth/mini/login`, { headers: address(user), body: { code: await code(user) } });
    if (res.status !== 200) log(`first login ${user}: ${res.status} ${res.body.slice(0, 120)}`);
  }
  const codes = await Promise.all(Array.from({ length: N }, async (_, i) => ({ user: users[i % USERS]!, code: await code(users[i % USERS]!) })));
  const outcomes: Record<string, number> = {};
  const t0 = performance.now();
  const run = pool(codes, C, async (c) => {
    const res = await request(`${apiUrl}/api/auth/mini/login`, { headers: address(c.user), body: { code: c.code } });
    const key = res.status === 200 ? '200' : `${res.status} ${(JSON.parse(res.body) as { error?: { code?: string } }).error?.code}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  });
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), MAX_S * 1000).unref());
  const result = await Promise.race([run, timeout]);
  if (!result) log(`NOT FINISHED after ${MAX_S} s`, outcomes);
  else {
    const sorted = [...result.latencies].sort((a, b) => a - b);
    const failed = result.errors ? `, ${result.errors} failed (${result.firstErrors.join(' | ')})` : '';
    log(`relay=${RELAY} n=${N} c=${C}`, outcomes, `p50 ${percentile(sorted, 0.5).toFixed(0)} ms p99 ${percentile(sorted, 0.99).toFixed(0)} ms, ${((performance.now() - t0) / 1000).toFixed(1)} s${failed}`);
  }
} catch (error) {
  // a broken run (pool rejects past its error share, a child that did not start) is a failure, not exit 0
  log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await Promise.all(children.map((c) => c.stop()));
  process.exit();
}
