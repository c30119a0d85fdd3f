import { getRecord, metered } from './support/records.js';
import { EventEmitter } from 'node:events';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { createAttempt, scanAttempt, type AttemptDeps, type AttemptView } from '../packages/server/src/flows/attempt/attempt.js';
import { ATTEMPT_VALUE_FIELDS, createChangeStreamNotifier } from '../packages/server/src/flows/attempt/change-stream.js';
import type { AttemptNotifier } from '../packages/server/src/flows/attempt/notify.js';
import { silentLogger, type Logger } from '../packages/server/src/log.js';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../packages/server/src/env.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { mongoRecordChanges, type ChangeStreamLike, type RecordChangeSource } from '../packages/server/src/store/mongo-changes.js';
import type { Storage, StoredRecord } from '../packages/server/src/store/types.js';

/**
 * The change-stream notifier of PC logins (issue 13 §3).
 *
 * Two halves:
 * 1. Against the running FerretDB (MONGODB_URI): FerretDB v1 answers `$changeStream` with code 238
 *    NotImplemented — a REAL refusal; the notifier must fall back to polling, say so once, and still
 *    deliver a confirmation made through another instance.
 * 2. The stream handling itself (delivery, resume token, fallback after repeated errors, no waiter
 *    lost, stop). No server with change streams can run here (no replica set: no mongod binary, no
 *    Docker, FerretDB has none), so these use FakeChangeStream, a hand-written STAND-IN for the
 *    driver's ChangeStream in event-emitter mode, behaving as the driver (mongodb 7.x) documents and
 *    implements it: 'init' once the server accepted the aggregate, one 'change' per event whose
 *    `_id` is the resume token, 'resumeTokenChanged' as the token moves, and for an error it could
 *    not resume by itself 'error' followed by 'close'; `close()` emits 'close'. The change documents
 *    are shaped like the server's (operationType 'insert', fullDocument = the inserted record
 *    version) and are parsed by the real `mongoRecordChanges(...).parse`.
 */

class FakeChangeStream extends EventEmitter implements ChangeStreamLike {
  closed = false;
  constructor(readonly resumeAfter: unknown) {
    super();
  }
  /** the server accepted the stream */
  init() {
    this.emit('init', {});
  }
  /** an insert of a record version, as the server sends it (the `_id` is the resume token; the value projected to ATTEMPT_VALUE_FIELDS, as the pipeline's $project does) */
  insert(token: unknown, rid: string, record: Pick<StoredRecord, 'value' | 'version'>) {
    const value = Object.fromEntries(ATTEMPT_VALUE_FIELDS.filter((f) => f in record.value).map((f) => [f, record.value[f]]));
    this.emit('change', { _id: token, operationType: 'insert', fullDocument: { rid, version: record.version, value } });
    this.emit('resumeTokenChanged', token);
  }
  /** an error the driver could not resume: 'error' then 'close' (ChangeStream._closeEmitterModeWithError) */
  fail(error: { code?: number; message: string }) {
    this.emit('error', Object.assign(new Error(error.message), error));
    void this.close();
  }
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

function fakeSource() {
  const real = mongoRecordChanges({ records: () => Promise.reject(new Error('unused')), prefix: 'attempt:', valueFields: ATTEMPT_VALUE_FIELDS });
  const streams: FakeChangeStream[] = [];
  const source: RecordChangeSource = {
    async open(resumeAfter) {
      const stream = new FakeChangeStream(resumeAfter);
      streams.push(stream);
      return stream;
    },
    parse: real.parse,
  };
  return { source, streams, last: () => streams.at(-1)! };
}

/** counts the notifier's reads (one getRecords, or one getRecord per attempt when it watches one or two) */
function counting(inner: Storage) {
  const counts = { reads: 0 };
  const store = metered(inner, (call) => {
    if (call === 'records.get') counts.reads++;
  });
  return { store, counts };
}

function capture() {
  const lines: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const logger: Logger = { log: (level, event, fields = {}) => lines.push({ level, event, fields }) };
  return { logger, lines };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (check: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
};

const notifiers: AttemptNotifier[] = [];
afterEach(() => notifiers.splice(0).forEach((n) => n.stop()));

function setup(options: { intervalMs?: number; maxFailures?: number; idleCloseMs?: number } = {}) {
  const inner = new EmbeddedStore({ dir: null });
  const deps: AttemptDeps = { store: inner, sessions: createSessionManager(inner), logger: silentLogger };
  const { store, counts } = counting(inner);
  const fake = fakeSource();
  const { logger, lines } = capture();
  const notifier = createChangeStreamNotifier({ store, source: fake.source, logger, intervalMs: options.intervalMs ?? 500, minIntervalMs: 100, retryDelayMs: 10, maxFailures: options.maxFailures, idleCloseMs: options.idleCloseMs });
  notifiers.push(notifier);
  /** what another instance wrote, read back as the stream would carry it */
  const record = async (id: string) => (await getRecord(inner, `attempt:${id}`))!;
  return { inner, deps, store, counts, fake, lines, notifier, record };
}

/** the test MongoDB (tests/setup/global.ts); '' with SKIP_MONGO=1, and then this block skips */
const testMongoUri = inject('mongodbUri');
describe.skipIf(!testMongoUri)('ChangeStreamNotifier against FerretDB (change streams really refused)', () => {
  const uri = testMongoUri;
  const dbName = `h14_cs_${process.pid}`;
  const ENV = { NODE_ENV: 'test', WECHAT_MINI_APPID: 'wxd0c0ffee00000001', WECHAT_MINI_SECRET: '0'.repeat(32), WECHAT_API_BASE: 'http://127.0.0.1:9', WECHAT_API_FAILOVER: '', MONGODB_URI: uri, MONGODB_DB: dbName, SESSION_KEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}` };
  const stores: Storage[] = [];
  afterAll(async () => {
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(uri);
    await client.db(dbName).dropDatabase().catch(() => {});
    await client.close();
    await Promise.all(stores.map((s) => s.close()));
  });

  it("Should fall back to polling on code 238, log it once, and still deliver another instance's 确认", async () => {
    const { logger, lines } = capture();
    // instance B holds the PC; instance A (another createServices on the same database) takes the phone
    const b = createServices(optionsFromEnv(ENV), { logger });
    const a = createServices(optionsFromEnv(ENV), { logger: silentLogger });
    stores.push(a.store, b.store);
    try {
      const deps: AttemptDeps = { store: a.store, sessions: createSessionManager(a.store), logger: silentLogger };
      const first = await createAttempt(deps, { userAgent: 'x' });
      const second = await createAttempt(deps, { userAgent: 'x' });
      const waiting = b.notifier.wait(first.id, first.view.version, 10_000);
      const alsoWaiting = b.notifier.wait(second.id, second.view.version, 10_000);
      await until(() => lines.some((l) => l.event === 'pc.notifier.fallback_polling'), 8000);
      const fallbacks = lines.filter((l) => l.event === 'pc.notifier.fallback_polling');
      expect(fallbacks).toHaveLength(1);
      expect(fallbacks[0]!.fields).toMatchObject({ mongoCode: 238 });
      // a refusal is not retried as if it were a passing failure
      expect(lines.filter((l) => l.event === 'pc.notifier.stream_error')).toHaveLength(0);
      expect(b.notifier.stats().source).toBe('polling');

      // the phone's change on A: B is not told (no `changed`), it learns through the database
      const started = Date.now();
      await scanAttempt(deps, first.id, { userId: 'u-238', source: 'test' });
      const seen = await waiting;
      expect(seen !== 'timeout' && seen?.status).toBe('scanned');
      expect(Date.now() - started).toBeLessThan(1500);
      // the other waiter was not lost in the fallback either
      await scanAttempt(deps, second.id, { userId: 'u-238b', source: 'test' });
      const other = await alsoWaiting;
      expect(other !== 'timeout' && other?.status).toBe('scanned');
      // later waits do not try the stream again, nor log again
      const third = await createAttempt(deps, { userAgent: 'x' });
      await b.notifier.wait(third.id, third.view.version, 300);
      expect(lines.filter((l) => l.event === 'pc.notifier.fallback_polling')).toHaveLength(1);
    } finally {
      a.stop();
      b.stop();
    }
  }, 30_000);
});

describe('ChangeStreamNotifier stream handling (driver stand-in)', () => {
  it('Should wake a waiter from the stream at once, with no polling while the stream is live', async () => {
    const { deps, counts, fake, notifier, record } = setup({ intervalMs: 100 });
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    const waiting = notifier.wait(id, view.version, 10_000);
    await until(() => fake.streams.length === 1);
    fake.last().init();
    expect(notifier.stats().source).toBe('change-stream');
    await sleep(800); // 8 polling intervals: a poller would have read ~8 times
    const before = counts.reads;
    expect(before).toBeLessThanOrEqual(2); // the subscribe-then-read catch-up (+ at most one poll before 'init')
    await scanAttempt(deps, id, { userId: 'u1', source: 'test' });
    const started = performance.now();
    fake.last().insert({ t: 1 }, `attempt:${id}`, await record(id));
    const seen = await waiting;
    expect(performance.now() - started).toBeLessThan(20);
    expect(seen !== 'timeout' && seen?.status).toBe('scanned');
    // the PC's status answers carry its digits, also when the view came from a change event
    expect(seen !== 'timeout' && seen?.match).toBe(view.match);
    expect(view.match).toMatch(/^\d{2}$/);
    expect(counts.reads).toBe(before);
    // nothing of the attempt's secrets travels in the stream's documents: only the listed fields
    expect(ATTEMPT_VALUE_FIELDS).not.toContain('pcKeyHash');
  });

  it("Should not miss a change made between the route's read and the registration (subscribe, then read)", async () => {
    const { deps, fake, notifier } = setup({ intervalMs: 60_000 });
    const warm = await createAttempt(deps, { userAgent: 'x' });
    void notifier.wait(warm.id, warm.view.version, 10_000);
    await until(() => fake.streams.length === 1);
    fake.last().init();
    // the PC's route read version 1; the phone scans before the PC's wait is registered, and the
    // stream's event for it went by before anyone watched this id
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    await scanAttempt(deps, id, { userId: 'u1', source: 'test' });
    const seen = await notifier.wait(id, view.version, 2000);
    expect(seen !== 'timeout' && seen?.status).toBe('scanned');
  });

  it('Should reopen with the last resume token after a transient error, serving waiters by polling meanwhile', async () => {
    const { deps, fake, notifier, record, lines } = setup({ intervalMs: 200 });
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    const other = await createAttempt(deps, { userAgent: 'x' });
    const waiting = notifier.wait(id, view.version, 10_000);
    const otherWaiting = notifier.wait(other.id, other.view.version, 10_000);
    await until(() => fake.streams.length === 1);
    fake.last().init();
    const scanned = await scanAttempt(deps, id, { userId: 'u1', source: 'test' });
    fake.last().insert({ t: 7 }, `attempt:${id}`, await record(id));
    expect(((await waiting) as AttemptView).status).toBe('scanned');
    const again = notifier.wait(id, scanned.view.version, 10_000);

    // not a refusal (e.g. 'operation exceeded time limit' / a cursor killed): reopen after the last token
    fake.last().fail({ code: 50, message: 'operation exceeded time limit' });
    await until(() => fake.streams.length === 2);
    expect(fake.last().resumeAfter).toEqual({ t: 7 });
    expect(lines.filter((l) => l.event === 'pc.notifier.stream_error')).toHaveLength(1);
    expect(lines.filter((l) => l.event === 'pc.notifier.fallback_polling')).toHaveLength(0);
    // the second stream has not started yet: a change made now reaches its waiter by polling
    await scanAttempt(deps, other.id, { userId: 'u2', source: 'test' });
    expect(((await otherWaiting) as AttemptView).status).toBe('scanned');
    // once started, the new stream delivers to the waiter registered before the error
    fake.last().init();
    const { confirmKey } = scanned;
    const { confirmationPage, decideAttempt } = await import('../packages/server/src/flows/attempt/attempt.js');
    const { nonce, view: shown } = await confirmationPage(deps, confirmKey);
    await decideAttempt(deps, { confirmKey, nonce, action: 'confirm', pick: shown.match });
    fake.last().insert({ t: 8 }, `attempt:${id}`, await record(id));
    expect(((await again) as AttemptView).status).toBe('confirmed');
  });

  it('Should fall back to polling for good after repeated failures, logged once, losing no waiter', async () => {
    const { deps, fake, notifier, lines } = setup({ intervalMs: 200, maxFailures: 3 });
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    const waiting = notifier.wait(id, view.version, 10_000);
    for (let n = 1; n <= 3; n++) {
      await until(() => fake.streams.length === n);
      fake.last().init();
      fake.last().fail({ code: 6, message: 'host unreachable' });
    }
    await until(() => lines.some((l) => l.event === 'pc.notifier.fallback_polling'));
    await sleep(200);
    expect(fake.streams).toHaveLength(3); // no fourth try
    expect(notifier.stats().source).toBe('polling');
    // the waiter registered before the failures is still served, now by polling
    await scanAttempt(deps, id, { userId: 'u1', source: 'test' });
    expect(((await waiting) as AttemptView).status).toBe('scanned');
    const other = await createAttempt(deps, { userAgent: 'x' });
    const second = notifier.wait(other.id, other.view.version, 10_000);
    await scanAttempt(deps, other.id, { userId: 'u2', source: 'test' });
    expect(((await second) as AttemptView).status).toBe('scanned');
    expect(fake.streams).toHaveLength(3);
    expect(lines.filter((l) => l.event === 'pc.notifier.fallback_polling')).toHaveLength(1);
  });

  it('Should fall back at once when the server refuses change streams (40573 on a standalone mongod)', async () => {
    const { deps, fake, notifier, lines } = setup({ intervalMs: 200 });
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    const waiting = notifier.wait(id, view.version, 10_000);
    await until(() => fake.streams.length === 1);
    fake.last().fail({ code: 40573, message: 'The $changeStream stage is only supported on replica sets' });
    await until(() => lines.some((l) => l.event === 'pc.notifier.fallback_polling'));
    expect(lines.find((l) => l.event === 'pc.notifier.fallback_polling')!.fields).toMatchObject({ mongoCode: 40573 });
    await scanAttempt(deps, id, { userId: 'u1', source: 'test' });
    expect(((await waiting) as AttemptView).status).toBe('scanned');
    expect(fake.streams).toHaveLength(1);
  });

  it('Should wake a waiter when its attempt expires (no stream event says so)', async () => {
    const { deps, fake, notifier } = setup({ intervalMs: 60_000 });
    const { id, view } = await createAttempt({ ...deps, ttlMs: 400 }, { userAgent: 'x' });
    const waiting = notifier.wait(id, view.version, 5000);
    await until(() => fake.streams.length === 1);
    fake.last().init();
    const seen = await waiting;
    expect(seen !== 'timeout' && seen?.status).toBe('expired');
  });

  it('Should close the stream when nobody waits, and everything on stop()', async () => {
    const { deps, fake, notifier } = setup({ intervalMs: 60_000, idleCloseMs: 100 });
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    await notifier.wait(id, view.version, 50);
    await until(() => fake.streams.length === 1);
    fake.last().init();
    await until(() => fake.streams[0]!.closed, 2000);
    // a new waiter opens a new stream (fresh: no stale token)
    const waiting = notifier.wait(id, view.version, 10_000);
    await until(() => fake.streams.length === 2);
    expect(fake.last().resumeAfter).toBeUndefined();
    fake.last().init();
    notifier.stop();
    expect(await waiting).toBe('timeout');
    await until(() => fake.streams[1]!.closed);
    await sleep(100);
    expect(fake.streams).toHaveLength(2);
    // waits after stop do not reopen anything
    expect(await notifier.wait(id, view.version, 50)).toBe('timeout');
    await sleep(50);
    expect(fake.streams).toHaveLength(2);
  });
});
