// `npx tsx bench/pc-login.bench.ts` (npm run bench:pc): the PC login's live status (issue 13 §3).
// Two API instances share one store: the phone's requests go to A, the waiting PCs' Server-Sent-Event
// streams to B, so B learns of 确认 only through the database (DbNotifier). Measures, at 1, 50 and
// 200 waiting browsers: confirm-to-PC latency (the phone's POST 确认 sent on A → the PC's stream on
// B delivers "confirmed") and store reads per waiting browser per second on B while they wait.
// Embedded store by default; `--mongo` uses MONGODB_URI. Replaces only its own section of docs/BENCH.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { silentLogger } from '../api/_lib/log.js';
import { createServices, type Services } from '../api/_lib/main.js';
import { scanAttempt } from '../api/_lib/flows/attempt/attempt.js';
import { EmbeddedStore } from '../api/_lib/store/embedded.js';
import { createMongoStore, getMongoClient, migrateMongo } from '../api/_lib/store/mongo.js';
import type { Store } from '../api/_lib/store/types.js';
import { createSessionManager } from '../api/_lib/sessions/sessions.js';
import { resolveAccount } from '../api/_lib/users/accounts.js';

const useMongo = process.argv.includes('--mongo');
const SIZES = [1, 50, 200];
const WAIT_WINDOW_MS = 10_000;

function counting(inner: Store) {
  const counts = { reads: 0 };
  const store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop !== 'stats' && prop !== 'close') counts.reads++;
        return value.apply(target, args);
      };
    },
  });
  return { store, counts };
}

const ENV = {
  NODE_ENV: 'test',
  WECHAT_MINI_APPID: 'wxd0c0ffee00000001',
  WECHAT_MINI_SECRET: '0'.repeat(32),
  WECHAT_API_BASE: 'http://127.0.0.1:9',
  WECHAT_API_FAILOVER: '',
  RATE_LIMIT_PER_ADDRESS: '0',
  RATE_LIMIT_PER_APPID: '0',
  PC_EVENTS_STREAM_MS: '25000',
};

const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().map((l) => l.split(';')[0]!).find((p) => p.startsWith(`${name}=`))!;

/** A waiting PC on instance B: its attempt and a reconnecting SSE reader that records when each status arrives. */
async function waitingPc(b: Services) {
  const created = await b.app.fetch(new Request('http://pc.test/api/auth/pc/attempt', { method: 'POST', headers: { 'user-agent': 'bench Chrome/131.0' } }));
  const cookie = cookieOf(created, 'wx_pc_attempt');
  const id = cookie.split('=')[1]!.split('.')[0]!;
  let confirmedAt = 0;
  let stopped = false;
  const abort = new AbortController();
  const loop = (async () => {
    while (!stopped && !confirmedAt) {
      const res = await b.app.fetch(new Request('http://pc.test/api/auth/pc/events', { headers: { cookie }, signal: abort.signal }));
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value);
          if (text.includes('"confirmed"')) {
            confirmedAt = performance.now();
            break;
          }
        }
      } catch {
        return;
      }
    }
  })();
  return {
    id,
    confirmed: () => confirmedAt,
    async stop() {
      stopped = true;
      abort.abort();
      await loop.catch(() => {});
    },
  };
}

async function run(inner: Store, n: number) {
  const { store, counts } = counting(inner);
  const a = createServices(ENV, { store: inner, logger: silentLogger });
  const b = createServices(ENV, { store, logger: silentLogger });
  const pcs = await Promise.all(Array.from({ length: n }, () => waitingPc(b)));
  await new Promise((r) => setTimeout(r, 1000)); // every stream open
  // reads on B while everyone waits (streams reconnect within the window as they would in production)
  counts.reads = 0;
  await new Promise((r) => setTimeout(r, WAIT_WINDOW_MS));
  const readsPerBrowserPerSecond = counts.reads / n / (WAIT_WINDOW_MS / 1000);

  // confirm-to-PC latency: phones confirm on A one after another, at random moments
  const samples: number[] = [];
  const sampleCount = 50;
  for (let i = 0; i < sampleCount; i++) {
    // a confirmed PC is replaced by a new waiting one, so `n` browsers keep waiting throughout
    if (pcs[i % n]!.confirmed()) {
      await pcs[i % n]!.stop();
      pcs[i % n] = await waitingPc(b);
      await new Promise((r) => setTimeout(r, 50));
    }
    const pc = pcs[i % n]!;
    const { user } = await resolveAccount(inner, { appid: 'wxbench', openid: `o-bench-${n}-${i}`, unionid: null }, async () => ({ nickname: null, avatarUrl: null }), new Date());
    const { confirmKey } = await scanAttempt({ store: inner, sessions: createSessionManager(inner), logger: silentLogger }, pc.id, { userId: user.id, source: 'bench' });
    // the phone's pages on A: the key from a link moves into a cookie, the page gives its nonce
    const link = await a.app.fetch(new Request(`http://app.test/api/auth/pc/confirm?k=${confirmKey}`));
    const phoneCookie = cookieOf(link, 'wx_pc_confirm');
    const page = await (await a.app.fetch(new Request('http://app.test/api/auth/pc/confirm', { headers: { cookie: phoneCookie } }))).text();
    const nonce = /name="nonce" value="([^"]+)"/.exec(page)![1]!;
    await new Promise((r) => setTimeout(r, Math.random() * 600));
    const sent = performance.now();
    const res = await a.app.fetch(
      new Request('http://app.test/api/auth/pc/confirm', { method: 'POST', headers: { cookie: phoneCookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ nonce, action: 'confirm' }) }),
    );
    if (res.status !== 200) throw new Error(`confirm failed ${res.status}`);
    while (!pc.confirmed()) await new Promise((r) => setTimeout(r, 2));
    samples.push(pc.confirmed() - sent);
  }
  await Promise.all(pcs.map((pc) => pc.stop()));
  a.stop();
  b.stop();
  samples.sort((x, y) => x - y);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!;
  return { n, samples: samples.length, p50: pct(50), p99: pct(99), max: samples.at(-1)!, readsPerBrowserPerSecond };
}

const stores: { label: string; store: Store }[] = [{ label: 'embedded', store: new EmbeddedStore({ dir: null }) }];
if (useMongo) {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('--mongo needs MONGODB_URI');
  const client = await getMongoClient(uri);
  const dbName = `bench_pc_${Date.now()}`;
  await migrateMongo(client.db(dbName));
  stores.push({ label: 'MongoDB (FerretDB)', store: createMongoStore({ uri, dbName }) });
}

const rows = [];
for (const { label, store } of stores) {
  for (const n of SIZES) {
    const row = { label, ...(await run(store, n)) };
    console.log(row);
    rows.push(row);
  }
}

const section = `## PC login live status / 电脑扫码登录的实时状态 (issue 13)

\`npx tsx bench/pc-login.bench.ts${useMongo ? ' --mongo' : ''}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, 2 cores, stores: ${stores.map((s) => s.label).join(', ')}.
Two API instances share the store: the phone's 确认 (POST /api/auth/pc/confirm) goes to instance A, every
waiting PC holds a Server-Sent-Events stream on instance B, so B learns of it only through the database
(DbNotifier: one query for every attempt it watches, every max(100 ms, 500 ms / N)). Latency = the phone's POST sent → the PC's stream
delivers "confirmed" (50 confirmations at random moments; a confirmed PC is replaced by a new waiting one). Reads = every store call on B
during a ${WAIT_WINDOW_MS / 1000} s wait, per waiting browser per second (stream reconnects included).

| store | waiting browsers | samples | p50 ms | p99 ms | max ms | DB reads / waiting browser / s |
|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.label} | ${r.n} | ${r.samples} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.max.toFixed(0)} | ${r.readsPerBrowserPerSecond.toFixed(2)} |`).join('\n')}

Budgets (issue 13): p99 ≤ 500 ms, ≤ 2 reads per waiting browser per second whatever the number waiting.
A 确认 handled by the SAME instance that holds the PC's stream is delivered with no read at all
(notifier.changed); the numbers above are the cross-instance worst case.
`;

const file = 'docs/BENCH.md';
const current = readFileSync(file, 'utf8');
const start = current.indexOf('## PC login live status');
let next = current;
if (start >= 0) {
  const end = current.indexOf('\n## ', start + 1);
  next = current.slice(0, start) + section + (end >= 0 ? current.slice(end + 1) : '');
} else next = `${current.trimEnd()}\n\n${section}`;
writeFileSync(file, next);
console.log(section);
process.exit(0);
