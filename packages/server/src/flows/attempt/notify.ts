import type { Storage } from '../../store/types.js';
import { ATTEMPT_ID_PATTERN, attempts, toView, type AttemptRecord, type AttemptView, type AttemptViewRecord } from './attempt.js';

/**
 * Tells a waiting PC that its attempt changed. One small interface, two implementations:
 *
 * - DbNotifier (here): polling through the database only — any instance can take the phone's request
 *   and any other can hold the PC's connection, on any store (embedded, FerretDB, a standalone mongod).
 * - ChangeStreamNotifier (change-stream.ts): one MongoDB change stream per instance wakes its waiters
 *   at once (Atlas, any replica set); it falls back to this polling when the server refuses change
 *   streams or the stream keeps failing.
 *
 * Polling: one timer per instance reads EVERY attempt it watches in ONE query (Store.getRecords;
 * an indexed read while it watches only one, readAttempts), however many connections wait. With N attempts watched, ticks start every max(minIntervalMs,
 * intervalMs / N), at a fixed rate (each tick is scheduled from the previous tick's START, so a slow
 * query does not push the next one back): a waiting browser costs at most 1000 / intervalMs reads
 * per second (2 by default) whatever the number waiting, the instance's own load stays
 * ≤ 1000 / minIntervalMs queries per second, and a change waits at most one interval (plus the
 * query) to be seen. A change made on THIS instance (`changed`) wakes its waiters at once, no read.
 */
export interface AttemptNotifier {
  /**
   * Resolves with the attempt once its version differs from `knownVersion` (null: it is gone), or
   * with 'timeout' after `timeoutMs` / when `signal` aborts.
   */
  wait(id: string, knownVersion: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptView | null | 'timeout'>;
  /** This instance changed the attempt (e.g. the phone's 确认 landed here): wake its waiters now. */
  changed(view: AttemptView): void;
  /**
   * Queries done so far (polls and catch-up reads), attempts watched now, and what tells this
   * instance of changes made elsewhere now: 'polling' or 'change-stream' (benchmarks, tests).
   */
  stats(): { reads: number; watching: number; source: NotifierSource };
  stop(): void;
}

export type NotifierSource = 'polling' | 'change-stream';

/** 2 reads per second per waiting browser at most (the budget); worst-case delay ≈ one interval. */
export const NOTIFY_INTERVAL_MS = 500;
/** however many wait, an instance queries at most 10 times a second */
export const NOTIFY_MIN_INTERVAL_MS = 100;

export interface PollOptions {
  intervalMs?: number;
  minIntervalMs?: number;
  clock?: () => Date;
}

type WaitResult = AttemptView | null | 'timeout';

interface Waiter {
  knownVersion: number;
  resolve(result: WaitResult): void;
}

/** The waiting connections of one instance, by attempt id. */
export interface Waiters {
  add(id: string, knownVersion: number, timeoutMs: number, signal: AbortSignal | undefined, onAdded: () => void): Promise<WaitResult>;
  /** wakes the waiters of `id` whose known version differs (an expired attempt wakes everyone) */
  deliver(id: string, view: AttemptView | null): void;
  ids(): string[];
  has(id: string): boolean;
  size(): number;
  /** called when the last waiter of an id leaves */
  onEmpty(listener: (id: string) => void): void;
  /** every waiter resolves 'timeout' */
  clear(): void;
}

export function createWaiters(): Waiters {
  const watched = new Map<string, Set<Waiter>>();
  const emptyListeners: ((id: string) => void)[] = [];
  const dropIfEmpty = (id: string, set: Set<Waiter>) => {
    if (set.size || watched.get(id) !== set) return;
    watched.delete(id);
    for (const listener of emptyListeners) listener(id);
  };
  return {
    add(id, knownVersion, timeoutMs, signal, onAdded) {
      return new Promise((resolve) => {
        let done = false;
        const waiter: Waiter = {
          knownVersion,
          resolve(result) {
            if (done) return;
            done = true;
            clearTimeout(timeout);
            signal?.removeEventListener('abort', onAbort);
            resolve(result);
          },
        };
        const onAbort = () => {
          const set = watched.get(id);
          if (set) {
            set.delete(waiter);
            dropIfEmpty(id, set);
          }
          waiter.resolve('timeout');
        };
        const timeout = setTimeout(onAbort, timeoutMs);
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        let set = watched.get(id);
        if (!set) watched.set(id, (set = new Set()));
        set.add(waiter);
        onAdded();
      });
    },
    deliver(id, view) {
      const set = watched.get(id);
      if (!set) return;
      for (const waiter of [...set]) {
        if (view && view.version === waiter.knownVersion && view.status !== 'expired') continue;
        set.delete(waiter);
        waiter.resolve(view);
      }
      dropIfEmpty(id, set);
    },
    ids: () => [...watched.keys()],
    has: (id) => watched.has(id),
    size: () => watched.size,
    onEmpty: (listener) => void emptyListeners.push(listener),
    clear() {
      const all = [...watched.values()];
      watched.clear();
      for (const set of all) for (const waiter of set) waiter.resolve('timeout');
    },
  };
}

/**
 * A lone watched attempt is read with an indexed equality read (Store.getRecord); two or more in ONE
 * batched query (Store.getRecords). FerretDB v1 does not push `$in` down to PostgreSQL: a batched read
 * transfers and filters the whole records collection (72 ms at ~1,000 rows here, docs/BENCH.md) where
 * an equality read uses the index. Only for ONE: with N read one by one every 500 ms / N, each browser
 * would cost 2 × N reads per second.
 */
/** Reading any number of watched attempts is ONE query (an equality read for one, a batched read for more); none for none. */
export const queriesFor = (n: number): number => Math.min(n, 1);

/** The records of `ids` (attempt ids) as stored, and how many queries it took. */
export async function readAttempts(store: Pick<Storage, 'records'>, ids: string[], clock: () => Date): Promise<{ found: Map<string, AttemptRecord>; queries: number }> {
  // records.get reads one id by equality and several in one batch: one query either way
  return { found: await attempts.readMany({ store, clock }, ids), queries: queriesFor(ids.length) };
}

/**
 * Reads the given attempts and wakes their waiters (`onRecord` sees each stored record); the number
 * of queries (0 when the store failed).
 */
export async function readAndDeliver(
  store: Pick<Storage, 'records'>,
  waiters: Waiters,
  ids: string[],
  clock: () => Date,
  onRecord?: (id: string, record: AttemptViewRecord) => void,
): Promise<number> {
  try {
    const { found, queries } = await readAttempts(store, ids, clock);
    const at = clock();
    for (const id of ids) {
      const record = found.get(id) ?? null;
      waiters.deliver(id, toView(id, record, at));
      if (record) onRecord?.(id, record);
    }
    return queries;
  } catch {
    // the store is down for a moment: the waiters keep waiting until their timeout
    return 0;
  }
}

/**
 * The fixed-rate poller over `waiters`: while active and someone waits, a tick starts every
 * max(minIntervalMs, intervalMs / N) after the previous tick's start.
 */
export interface Poller {
  /** (re)arms the timer if it should run; call after a waiter is added */
  kick(): void;
  setActive(active: boolean): void;
  reads(): number;
  stop(): void;
}

export function createPoller(store: Pick<Storage, 'records'>, waiters: Waiters, options: PollOptions & { active?: boolean; countReads?: (queries: number) => void } = {}): Poller {
  const intervalMs = options.intervalMs ?? NOTIFY_INTERVAL_MS;
  const minIntervalMs = Math.min(intervalMs, options.minIntervalMs ?? NOTIFY_MIN_INTERVAL_MS);
  const clock = options.clock ?? (() => new Date());
  let active = options.active ?? true;
  let reads = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inFlight = false;
  let stopped = false;
  /** performance.now() at the start of the last tick */
  let lastStart = -Infinity;
  const period = () => Math.max(minIntervalMs, intervalMs / Math.max(1, waiters.size()));

  const tick = async () => {
    timer = null;
    if (!active || stopped || !waiters.size()) return;
    const now = performance.now();
    // a timer may fire up to a millisecond early (libuv's cached loop time): never tick sooner than one period
    if (now < lastStart + period()) return schedule();
    lastStart = now;
    inFlight = true;
    const ids = waiters.ids();
    try {
      await readAndDeliver(store, waiters, ids, clock);
    } finally {
      // queries issued, whether or not they succeeded
      const queries = queriesFor(ids.length);
      reads += queries;
      options.countReads?.(queries);
      inFlight = false;
      schedule();
    }
  };

  const schedule = () => {
    if (timer || inFlight || !active || stopped || !waiters.size()) return;
    const now = performance.now();
    let next = lastStart + period();
    // idle for a while: the route that registered the waiter has just read the attempt, so the first
    // read is one period from now (keeps a lone waiter at 1000 / intervalMs reads per second)
    if (next < now - period()) next = now + period();
    timer = setTimeout(tick, Math.max(0, Math.ceil(next - now)));
    timer.unref?.();
  };

  return {
    kick: schedule,
    setActive(value) {
      active = value;
      if (!active && timer) {
        clearTimeout(timer);
        timer = null;
      }
      schedule();
    },
    reads: () => reads,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

export function createDbNotifier(store: Pick<Storage, 'records'>, options: PollOptions = {}): AttemptNotifier {
  const waiters = createWaiters();
  const poller = createPoller(store, waiters, options);
  return {
    wait(id, knownVersion, timeoutMs, signal) {
      if (!ATTEMPT_ID_PATTERN.test(id)) return Promise.resolve(null);
      return waiters.add(id, knownVersion, timeoutMs, signal, poller.kick);
    },
    changed(view) {
      waiters.deliver(view.id, view);
    },
    stats: () => ({ reads: poller.reads(), watching: waiters.size(), source: 'polling' }),
    stop() {
      poller.stop();
      waiters.clear();
    },
  };
}
