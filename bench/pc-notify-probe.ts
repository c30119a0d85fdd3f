// The one measurement an operator runs once on Atlas (issue 21, "Also"): how long a PC login's status
// change made on one instance takes to reach a browser waiting on ANOTHER instance, and what delivered
// it — the change stream (Atlas: always a replica set) or the polling fallback (FerretDB, standalone).
//
//   MONGODB_URI='mongodb+srv://user:pass@cluster…/' npx tsx bench/pc-notify-probe.ts [--samples 50] [--db name] [--keep]
//
// Two instances in two processes, each with its own MongoDB client, as two serverless instances are:
//   B — a child process serving the API over HTTP (createServices, wired exactly as a MongoDB deployment:
//       the change-stream notifier, falling back to polling where change streams are refused); the
//       waiting PC's Server-Sent-Events stream is held on B;
//   A — this process: the phone's confirmation (POST /api/auth/pc/confirm) is handled here.
// Latency = A's POST 确认 sent → B's stream delivers "confirmed". One waiting browser at a time (the
// case polling is worst at: one read every 500 ms). It writes to a throw-away database
// (`wxlogin_notify_probe_<time>`, or --db), dropped at the end unless --keep: the user needs
// readWrite on it (an Atlas user limited to the app's database: pass --db with a scratch collection
// prefix-free name it may use, e.g. the app's database — then only this probe's `records` rows are
// added, and they expire). Prints one line per sample and a summary; writes no file.
import { cookieOf, PC_BENCH_ENV } from './lib.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../packages/server/src/log.js';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../api/_host.js';
import { scanAttempt } from '../packages/server/src/flows/attempt/attempt.js';
import { createMongoStore, getMongoClient, migrateMongo } from '../packages/server/src/store/mongo.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { resolveAccount } from '../packages/server/src/users/accounts.js';

const args = process.argv.slice(2);
const value = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const uri = process.env.MONGODB_URI?.trim();
if (!uri) {
  console.error('usage: MONGODB_URI=… npx tsx bench/pc-notify-probe.ts [--samples 50] [--db name] [--keep]');
  process.exit(2);
}
const ENV = {
  ...PC_BENCH_ENV,
  MONGODB_URI: uri,
  // the two instances share one deployment's keys (B's sealed attempt is read by A); a fresh one per run
  SESSION_KEY_ENCRYPTION_KEYS: process.env.PROBE_SEAL_KEYS ?? '',
};

if (args.includes('--serve-b')) {
  // ---- instance B (child process) ----
  const notes: string[] = [];
  const logger: Logger = { log: (_level, event, fields) => void (event.startsWith('pc.notifier.') && notes.push(`${event} ${JSON.stringify(fields ?? {})}`)) };
  const b = createServices(optionsFromEnv({ ...ENV, MONGODB_DB: value('db')! }), { logger });
  const server = serve(
    {
      fetch: (req) => (new URL(req.url).pathname === '/__probe' ? Response.json({ ...b.notifier.stats(), notes }) : b.app.fetch(req)),
      port: 0,
      hostname: '127.0.0.1',
    },
    (info: AddressInfo) => console.log(JSON.stringify({ url: `http://127.0.0.1:${info.port}` })),
  );
  process.on('SIGTERM', () => {
    b.stop();
    server.close(() => process.exit(0));
  });
} else {
  // ---- instance A (this process) and the measurement ----
  ENV.SESSION_KEY_ENCRYPTION_KEYS = `probe:${randomBytes(32).toString('base64')}`;
  const samples = Number(value('samples') ?? 50);
  const dbName = value('db') ?? `wxlogin_notify_probe_${Date.now()}`;
  const keep = args.includes('--keep') || value('db') !== undefined;
  const client = await getMongoClient(uri);
  await migrateMongo(client.db(dbName));
  const store = createMongoStore({ uri, dbName });
  const a = createServices(optionsFromEnv({ ...ENV, MONGODB_DB: dbName }), { store, logger: process.env.PROBE_DEBUG ? { log: (level, event, fields) => console.error(level, event, JSON.stringify(fields)) } : silentLogger });
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--serve-b', '--db', dbName], { env: { ...process.env, PROBE_SEAL_KEYS: ENV.SESSION_KEY_ENCRYPTION_KEYS }, stdio: ['ignore', 'pipe', 'inherit'] });
  const bUrl = await new Promise<string>((done, reject) => {
    child.once('exit', (code) => reject(new Error(`instance B exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => done((JSON.parse(line) as { url: string }).url));
  });
  const probe = async () => (await (await fetch(`${bUrl}/__probe`)).json()) as { watching: number; source: string; reads: number; notes: string[] };
  const times: number[] = [];
  const probeUsers: string[] = [];
  const sources = new Set<string>();
  try {
    for (let i = 0; i < samples; i++) {
      // a PC waits on B
      const created = await fetch(`${bUrl}/api/auth/pc/attempt`, { method: 'POST', headers: { 'user-agent': 'probe Chrome/131.0' } });
      const cookie = cookieOf(created, 'wx_pc_attempt');
      const id = cookie.split('=')[1]!.split('.')[0]!;
      const abort = new AbortController();
      let confirmedAt = 0;
      const stream = (async () => {
        const res = await fetch(`${bUrl}/api/auth/pc/events`, { headers: { cookie }, signal: abort.signal });
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        for (;;) {
          const { value: chunk, done } = await reader.read();
          if (done) return;
          text += decoder.decode(chunk);
          if (text.includes('"confirmed"')) return void (confirmedAt = performance.now());
        }
      })().catch(() => {});
      for (let t = 0; (await probe()).watching < 1; t++) {
        if (t > 500) throw new Error('B never registered the waiting PC');
        await new Promise((r) => setTimeout(r, 10));
      }
      // the phone scans and confirms on A
      const { user } = await resolveAccount(store, { appid: 'wxprobe', openid: `o-probe-${Date.now()}-${i}`, unionid: null }, async () => ({ nickname: null, avatarUrl: null }), new Date());
      probeUsers.push(user.id);
      const { confirmKey, view } = await scanAttempt({ store, sessions: createSessionManager(store), logger: silentLogger }, id, { userId: user.id, source: 'probe' });
      // the phone's confirmation page on A (its cookie is what /api/auth/pc/callback sets after the web authorization)
      const phoneCookie = `wx_pc_confirm=${confirmKey}`;
      const page = await (await a.app.fetch(new Request('http://app.test/api/auth/pc/confirm', { headers: { cookie: phoneCookie } }))).text();
      const nonce = /name="nonce" value="([^"]+)"/.exec(page)?.[1];
      if (!nonce) throw new Error(`the confirmation page on A has no form: ${page.replace(/<style>[\s\S]*?<\/style>/, '').slice(0, 900)}`);
      await new Promise((r) => setTimeout(r, Math.random() * 600)); // a random moment against a poll's phase
      const sent = performance.now();
      const res = await a.app.fetch(new Request('http://app.test/api/auth/pc/confirm', { method: 'POST', headers: { cookie: phoneCookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ nonce, action: 'confirm', pick: view.match }) }));
      if (res.status !== 200) throw new Error(`confirm on A → ${res.status}`);
      for (let t = 0; !confirmedAt; t++) {
        if (t > 5000) throw new Error('B never delivered "confirmed" (10 s)');
        await new Promise((r) => setTimeout(r, 2));
      }
      abort.abort();
      await stream;
      times.push(confirmedAt - sent);
      const state = await probe();
      sources.add(state.source);
      console.log(`sample ${i + 1}/${samples}: ${(confirmedAt - sent).toFixed(0)} ms via ${state.source}`);
    }
    const sorted = [...times].sort((x, y) => x - y);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(0);
    const state = await probe();
    console.log(
      `\nconfirm on A → "confirmed" on B, ${sorted.length} samples: p50 ${pct(50)} ms, p90 ${pct(90)} ms, p99 ${pct(99)} ms, max ${sorted.at(-1)!.toFixed(0)} ms; ` +
        `delivered by: ${[...sources].join(', ')}; B's notifier reads: ${state.reads}${state.notes.length ? `; B's notifier log: ${state.notes.join(' | ')}` : ''}`,
    );
  } finally {
    child.kill('SIGTERM');
    a.stop();
    if (!keep) await client.db(dbName).dropDatabase().catch((error) => console.error(`could not drop ${dbName}: ${error}`));
    else {
      // an existing (the app's) database: remove the probe's people; its attempt records expire by themselves
      const db = client.db(dbName);
      await db.collection<{ userId: string }>('identities').deleteMany({ userId: { $in: probeUsers } });
      await db.collection<{ _id: string }>('users').deleteMany({ _id: { $in: probeUsers } });
    }
    await client.close();
  }
  process.exit(0);
}
