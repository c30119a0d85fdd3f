import type { Store } from '../../store/types.js';
import { ATTEMPT_ID_PATTERN, toView, type AttemptView } from './attempt.js';

/**
 * Tells a waiting PC that its attempt changed. One small interface, so a pub/sub (Redis, a change
 * stream) could replace the default, which works through the database only: any instance can take
 * the phone's request and any other can hold the PC's connection.
 *
 * DbNotifier: one timer per instance reads EVERY attempt it watches in ONE query (Store.getRecords),
 * however many connections wait. With N attempts watched it reads every max(minIntervalMs,
 * intervalMs / N): a waiting browser costs at most 1000 / intervalMs reads per second (2 by default)
 * whatever the number waiting, and the more wait, the sooner each learns (the instance's own load
 * stays ≤ 1000 / minIntervalMs queries per second). A change made on THIS instance (`changed`) wakes
 * its waiters at once with no read at all.
 */
export interface AttemptNotifier {
  /**
   * Resolves with the attempt once its version differs from `knownVersion` (null: it is gone), or
   * with 'timeout' after `timeoutMs` / when `signal` aborts.
   */
  wait(id: string, knownVersion: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptView | null | 'timeout'>;
  /** This instance changed the attempt (e.g. the phone's 确认 landed here): wake its waiters now. */
  changed(view: AttemptView): void;
  /** queries done by the poller so far, and attempts watched now (benchmarks, tests) */
  stats(): { reads: number; watching: number };
  stop(): void;
}

/** 2 reads per second per waiting browser at most (the budget); worst-case delay ≈ one interval. */
export const NOTIFY_INTERVAL_MS = 500;
/** however many wait, an instance queries at most 10 times a second */
export const NOTIFY_MIN_INTERVAL_MS = 100;

interface Waiter {
  knownVersion: number;
  resolve(result: AttemptView | null | 'timeout'): void;
}

export function createDbNotifier(store: Store, options: { intervalMs?: number; minIntervalMs?: number; clock?: () => Date } = {}): AttemptNotifier {
  const intervalMs = options.intervalMs ?? NOTIFY_INTERVAL_MS;
  const minIntervalMs = Math.min(intervalMs, options.minIntervalMs ?? NOTIFY_MIN_INTERVAL_MS);
  const clock = options.clock ?? (() => new Date());
  const watched = new Map<string, Set<Waiter>>();
  let reads = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let polling = false;

  const deliver = (id: string, view: AttemptView | null) => {
    const waiters = watched.get(id);
    if (!waiters) return;
    for (const waiter of [...waiters]) {
      if (view && view.version === waiter.knownVersion && view.status !== 'expired') continue;
      waiters.delete(waiter);
      waiter.resolve(view);
    }
    if (!waiters.size) watched.delete(id);
  };

  const poll = async () => {
    timer = null;
    if (polling) return;
    polling = true;
    try {
      const ids = [...watched.keys()];
      if (ids.length) {
        reads++;
        try {
          const found = await store.getRecords(ids.map((id) => `attempt:${id}`));
          const at = clock();
          for (const id of ids) deliver(id, toView(id, found.get(`attempt:${id}`) ?? null, at));
        } catch {
          // the store is down for a moment: the waiters keep waiting until their timeout
        }
      }
    } finally {
      polling = false;
      schedule();
    }
  };

  const schedule = () => {
    if (timer || polling || !watched.size) return;
    timer = setTimeout(poll, Math.max(minIntervalMs, intervalMs / watched.size));
    timer.unref?.();
  };

  return {
    wait(id, knownVersion, timeoutMs, signal) {
      if (!ATTEMPT_ID_PATTERN.test(id)) return Promise.resolve(null);
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
        const remove = () => {
          const set = watched.get(id);
          set?.delete(waiter);
          if (set && !set.size) watched.delete(id);
        };
        const onAbort = () => {
          remove();
          waiter.resolve('timeout');
        };
        const timeout = setTimeout(onAbort, timeoutMs);
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        let set = watched.get(id);
        if (!set) watched.set(id, (set = new Set()));
        set.add(waiter);
        schedule();
      });
    },
    changed(view) {
      deliver(view.id, view);
    },
    stats: () => ({ reads, watching: watched.size }),
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      for (const waiters of watched.values()) for (const waiter of waiters) waiter.resolve('timeout');
      watched.clear();
    },
  };
}
