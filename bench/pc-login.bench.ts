// `npx tsx bench/pc-login.bench.ts [--mongo] [--samples=200] [--sizes=1,50,200] [--no-write]` (npm run bench:pc):
// the PC login's live status (issue 13 §3).
// Two API instances share one store: the phone's requests go to A, the waiting PCs' Server-Sent-Event
// streams to B, so B learns of 确认 only through the database. Measures, at 1, 50 and 200 waiting
// browsers: confirm-to-PC latency (the phone's POST 确认 sent on A → the PC's stream on B delivers
// "confirmed"), store reads per waiting browser per second on B while they wait, how long B's batched
// read (getRecords) takes, the event-loop delay of the benchmark's process, and which notifier served
// B (with `--mongo` B is wired exactly as main.ts wires a MongoDB deployment: the change-stream
// notifier, which falls back to polling on a server without change streams — FerretDB here).
// Embedded store by default; `--mongo` adds MONGODB_URI. Replaces only its own section of docs/BENCH.md.
import { cookieOf, PC_BENCH_ENV } from './lib.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { silentLogger, type Logger } from '../packages/server/src/log.js';
import { createServices, type Services } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../api/_host.js';
import { scanAttempt } from '../packages/server/src/flows/attempt/attempt.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { createMongoStore, getMongoClient, migrateMongo } from '../packages/server/src/store/mongo.js';
import type { Storage } from '../packages/server/src/store/types.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { resolveAccount } from '../packages/server/src/users/accounts.js';
import { withPort } from '../tests/support/records.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const useMongo = process.argv.includes('--mongo');
const write = !process.argv.includes('--no-write');
const SIZES = (arg('sizes') ?? '1,50,200').split(',').map(Number);
const SAMPLES = Number(arg('samples') ?? 200);
const WAIT_WINDOW_MS = 10_000;

function counting(inner: Storage) {
  const counts = { reads: [] as number[], queryMs: [] as number[] };
  // the PC path's reads: RecordPort.get (the status routes' and the notifier's; the instance's
  // background jobs, e.g. the expiry sweep every few minutes, are not per browser)
  const get: Storage['records']['get'] = (ids, now) => {
    counts.reads.push(performance.now());
    const started = performance.now();
    return inner.records.get(ids, now).finally(() => counts.queryMs.push(performance.now() - started));
  };
  const store = withPort(inner, 'records', { get });
  return { store, counts };
}

const ENV = PC_BENCH_ENV;


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

const pctOf = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

async function run(inner: Storage, n: number, mongoEnv: Record<string, string>, countRows: () => Promise<number | null>) {
  const { store, counts } = counting(inner);
  const fallbacks: string[] = [];
  const bLogger: Logger = { log: (_level, event, fields) => event.startsWith('pc.notifier.') && fallbacks.push(`${event} ${JSON.stringify(fields ?? {})}`) };
  const a = createServices(optionsFromEnv({ ...ENV, ...mongoEnv }), { store: inner, logger: silentLogger });
  const b = createServices(optionsFromEnv({ ...ENV, ...mongoEnv }), { store, logger: bLogger });
  const pcs = await Promise.all(Array.from({ length: n }, () => waitingPc(b)));
  await new Promise((r) => setTimeout(r, 1000)); // every stream open
  // reads on B while everyone waits (streams reconnect within the window as they would in production)
  const windowStart = performance.now();
  await new Promise((r) => setTimeout(r, WAIT_WINDOW_MS + 50));
  // reads started inside [windowStart, windowStart + WAIT_WINDOW_MS)
  const readsInWindow = counts.reads.filter((t) => t >= windowStart && t < windowStart + WAIT_WINDOW_MS).length;
  const readsPerBrowserPerSecond = readsInWindow / n / (WAIT_WINDOW_MS / 1000);
  const waitQueryMs = [...counts.queryMs].sort((x, y) => x - y);
  counts.queryMs = [];

  // confirm-to-PC latency: phones confirm on A one after another, at random moments
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const samples: number[] = [];
  const sources = new Set<string>();
  for (let i = 0; i < SAMPLES; i++) {
    const pc = pcs[i % n]!;
    const { user } = await resolveAccount(inner, { appid: 'wxbench', openid: `o-bench-${n}-${i}`, unionid: null }, async () => ({ nickname: null, avatarUrl: null }), new Date());
    const { confirmKey, view } = await scanAttempt({ store: inner, sessions: createSessionManager(inner), logger: silentLogger }, pc.id, { userId: user.id, source: 'bench' });
    // the phone's confirmation page on A: its cookie is what /api/auth/pc/callback sets after the web
    // authorization (the ?k= link is gone since issue 18); the page gives its nonce
    const phoneCookie = `wx_pc_confirm=${confirmKey}`;
    const page = await (await a.app.fetch(new Request('http://app.test/api/auth/pc/confirm', { headers: { cookie: phoneCookie } }))).text();
    const nonce = /name="nonce" value="([^"]+)"/.exec(page)![1]!;
    await new Promise((r) => setTimeout(r, Math.random() * 600));
    const sent = performance.now();
    const res = await a.app.fetch(
      new Request('http://app.test/api/auth/pc/confirm', { method: 'POST', headers: { cookie: phoneCookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ nonce, action: 'confirm', pick: view.match }) }),
    );
    if (res.status !== 200) throw new Error(`confirm failed ${res.status}`);
    while (!pc.confirmed()) await new Promise((r) => setTimeout(r, 2));
    samples.push(pc.confirmed() - sent);
    sources.add(b.notifier.stats().source);
    // the confirmed PC is replaced at once by a new waiting one, so `n` browsers keep waiting throughout
    await pc.stop();
    pcs[i % n] = await waitingPc(b);
    // ... and is waiting (its stream registered with B's notifier) before the next sample
    for (let t = 0; b.notifier.stats().watching < n; t++) {
      if (t > 500) throw new Error(`${b.notifier.stats().watching} waiting instead of ${n}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  loop.disable();
  await Promise.all(pcs.map((pc) => pc.stop()));
  a.stop();
  b.stop();
  samples.sort((x, y) => x - y);
  const rows = await countRows();
  const queryMs = [...waitQueryMs, ...counts.queryMs].sort((x, y) => x - y);
  return {
    n,
    samples: samples.length,
    p50: pctOf(samples, 50),
    p99: pctOf(samples, 99),
    max: samples.at(-1)!,
    readsPerBrowserPerSecond,
    queryP50: pctOf(queryMs, 50),
    queryP99: pctOf(queryMs, 99),
    loopP99: loop.percentile(99) / 1e6,
    notifier: [...sources].join(', '),
    rows,
    fallbacks,
  };
}

const stores: { label: string; store: Storage; env: Record<string, string>; countRows: () => Promise<number | null> }[] = [
  { label: 'embedded', store: new EmbeddedStore({ dir: null }), env: {}, countRows: async () => null },
];
if (useMongo) {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('--mongo needs MONGODB_URI');
  const client = await getMongoClient(uri);
  const dbName = `bench_pc_${Date.now()}`;
  await migrateMongo(client.db(dbName));
  const countRows = () => client.db(dbName).collection('records').estimatedDocumentCount();
  stores.push({ label: 'MongoDB (FerretDB)', store: createMongoStore({ uri, dbName }), env: { MONGODB_URI: uri, MONGODB_DB: dbName }, countRows });
}

const started = performance.now();
const rows = [];
for (const { label, store, env, countRows } of stores) {
  for (const n of SIZES) {
    const row = { label, ...(await run(store, n, env, countRows)) };
    console.log(row);
    rows.push(row);
  }
}
const seconds = Math.round((performance.now() - started) / 1000);

const section = `## PC login live status / 电脑扫码登录的实时状态 (issue 13)

\`npx tsx bench/pc-login.bench.ts${useMongo ? ' --mongo' : ''}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, 2 cores, stores: ${stores.map((s) => s.label).join(', ')}; run in ${seconds} s.
Two API instances share the store: the phone's 确认 (POST /api/auth/pc/confirm) goes to instance A, every
waiting PC holds a Server-Sent-Events stream on instance B, so B learns of it only through the database.
B is wired as main.ts wires it: embedded → polling (DbNotifier); MongoDB → the change-stream notifier, which on
FerretDB (no change streams: code 238) falls back to the same polling — the "notifier" column says what served.
Polling: one query for every attempt B watches, ticks every max(100 ms, 500 ms / N) from the previous tick's start.
Latency = the phone's POST sent → the PC's stream delivers "confirmed" (${SAMPLES} confirmations per size at random
moments; a confirmed PC is replaced by a new waiting one). Reads = B's record reads (the status routes' and the notifier's)
during a ${WAIT_WINDOW_MS / 1000} s wait, per waiting browser per second (stream reconnects included). Query = the time of B's record reads (the notifier's: one getRecords, or getRecord while B watches one attempt; and the routes'); loop = the event-loop
delay (p99) of this one process, which runs A, B and every browser; rows = documents in the records collection after the
size's run (one database for the three sizes; old versions are pruned, expired records swept).

| store | waiting browsers | samples | p50 ms | p99 ms | max ms | DB reads / waiting browser / s | query p50 / p99 ms | loop p99 ms | rows | notifier |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.label} | ${r.n} | ${r.samples} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.max.toFixed(0)} | ${r.readsPerBrowserPerSecond.toFixed(2)} | ${r.queryP50.toFixed(0)} / ${r.queryP99.toFixed(0)} | ${r.loopP99.toFixed(0)} | ${r.rows ?? '–'} | ${r.notifier} |`).join('\n')}
`;

if (write) {
  const file = 'docs/BENCH.md';
  const current = readFileSync(file, 'utf8');
  const start = current.indexOf('## PC login live status');
  let next = current;
  if (start >= 0) {
    // the section's hand-written notes (after the marker) are kept
    const end = current.indexOf('\n## ', start + 1);
    const old = current.slice(start, end >= 0 ? end + 1 : undefined);
    const notesAt = old.indexOf('<!-- notes -->');
    const notes = notesAt >= 0 ? `\n${old.slice(notesAt).trimEnd()}\n` : '';
    next = current.slice(0, start) + section + notes + (end >= 0 ? current.slice(end + 1) : '');
  } else next = `${current.trimEnd()}\n\n${section}`;
  writeFileSync(file, next);
}
console.log(section);
for (const row of rows) if (row.fallbacks.length) console.log(row.label, row.n, row.fallbacks.join('; '));
process.exit(0);
