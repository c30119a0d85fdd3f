import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../packages/server/src/log.js';
import { createAttempt, decideAttempt, confirmationPage, scanAttempt, type AttemptDeps } from '../packages/server/src/flows/attempt/attempt.js';
import { createDbNotifier, type AttemptNotifier } from '../packages/server/src/flows/attempt/notify.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import type { Storage } from '../packages/server/src/store/types.js';
import { metered } from './support/records.js';

/** The database notifier of PC logins (issue 13 §3): budgets and cross-instance delivery. */
function counting(inner: Storage) {
  const counts = { getRecord: 0, getRecords: 0 };
  // records.get of one id is the indexed equality read, of several the batched one
  const store = metered(inner, (call, args) => {
    if (call === 'records.get') counts[(args[0] as string[]).length === 1 ? 'getRecord' : 'getRecords']++;
  });
  return { store, counts };
}

const notifiers: AttemptNotifier[] = [];
afterEach(() => notifiers.splice(0).forEach((n) => n.stop()));

function setup() {
  const inner = new EmbeddedStore({ dir: null });
  const deps: AttemptDeps = { store: inner, sessions: createSessionManager(inner), logger: silentLogger };
  return { inner, deps };
}

describe('DbNotifier', () => {
  it('Should read every watched attempt in one query per tick: at most 2 reads per waiting browser per second, at 1, 2 or 100 waiting', async () => {
    for (const n of [1, 2, 100]) {
      const { inner, deps } = setup();
      const { store, counts } = counting(inner);
      const notifier = createDbNotifier(store, { intervalMs: 500, minIntervalMs: 100 });
      notifiers.push(notifier);
      const attempts = await Promise.all(Array.from({ length: n }, () => createAttempt(deps, { userAgent: 'x' })));
      const waits = attempts.map((a) => notifier.wait(a.id, a.view.version, 2000));
      const results = await Promise.all(waits);
      expect(results.every((r) => r === 'timeout')).toBe(true);
      const queries = counts.getRecord + counts.getRecords;
      if (n === 1) {
        // one watched: an indexed equality read (FerretDB scans the collection for a batched `$in`)
        expect(counts.getRecords).toBe(0);
        expect(counts.getRecord).toBeGreaterThan(0);
      } else {
        expect(counts.getRecord).toBe(0);
        expect(counts.getRecords).toBeGreaterThan(0);
      }
      // 2 s of waiting: ≤ 2 reads per waiting browser per second
      expect(queries).toBeLessThanOrEqual(2 * n * 2);
      // ≤ 10 queries/s for the whole instance, whatever n
      expect(queries).toBeLessThanOrEqual(21);
    }
  });

  it("Should deliver another instance's change through the database within one interval", async () => {
    const { inner, deps } = setup();
    const pcSide = createDbNotifier(inner, { intervalMs: 200 });
    notifiers.push(pcSide);
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    const waiting = pcSide.wait(id, view.version, 5000);
    const { confirmKey } = await scanAttempt(deps, id, { userId: 'u1', source: 'test' });
    const started = Date.now();
    const seen = await waiting;
    expect(seen !== 'timeout' && seen?.status).toBe('scanned');
    expect(Date.now() - started).toBeLessThan(600);
    // the instance that made a change wakes its own waiters at once, with no read
    const { store, counts } = counting(inner);
    const phoneSide = createDbNotifier(store, { intervalMs: 10_000 });
    notifiers.push(phoneSide);
    const scanned = seen as Exclude<typeof seen, 'timeout' | null>;
    const local = phoneSide.wait(id, scanned.version, 5000);
    const { nonce, view: shown } = await confirmationPage(deps, confirmKey);
    const confirmed = await decideAttempt(deps, { confirmKey, nonce, action: 'confirm', pick: shown.match });
    phoneSide.changed(confirmed);
    expect(((await local) as typeof confirmed).status).toBe('confirmed');
    expect(counts.getRecords).toBe(0);
  });

  it("Should tick at a fixed rate: the next read starts one interval after the previous one STARTED, however slow the query", async () => {
    const { inner, deps } = setup();
    const starts: number[] = [];
    // a store whose reads take 250 ms (a loaded database)
    const slow = metered(inner, async (call) => {
      if (call !== 'records.get') return;
      starts.push(performance.now());
      await new Promise((r) => setTimeout(r, 250));
    });
    const notifier = createDbNotifier(slow, { intervalMs: 400, minIntervalMs: 100 });
    notifiers.push(notifier);
    const { id, view } = await createAttempt(deps, { userAgent: 'x' });
    expect(await notifier.wait(id, view.version, 2500)).toBe('timeout');
    expect(starts.length).toBeGreaterThanOrEqual(5);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // drifting (scheduled after the query returned) would space them 400 + 250 = 650 ms apart
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(399); // never sooner than one interval either
    for (const gap of gaps) expect(gap).toBeLessThan(470);
    // and still ≤ 2 reads per second for this one waiting browser
    expect(starts.length).toBeLessThanOrEqual(2 * 2.5 + 1);
  });

  it('Should answer an expired attempt as expired', async () => {
    const { inner, deps } = setup();
    const notifier = createDbNotifier(inner, { intervalMs: 100 });
    notifiers.push(notifier);
    const { id, view } = await createAttempt({ ...deps, ttlMs: 300 }, { userAgent: 'x' });
    const seen = await notifier.wait(id, view.version, 3000);
    expect(seen !== 'timeout' && seen?.status).toBe('expired');
  });
});
