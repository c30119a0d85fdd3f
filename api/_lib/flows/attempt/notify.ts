import type { Store } from '../../store/types.js';
import { ATTEMPT_ID_PATTERN, toView, type AttemptView } from './attempt.js';

/**
 * Tells a waiting PC that its attempt changed. One small interface, so a pub/sub (Redis, a change
 * stream) could replace the default, which works through the database only: any instance can take
 * the phone's request and any other can hold the PC's connection.
 *
 * DbNotifier: one timer per instance reads every watched attempt once per `intervalMs` (however many
 * connections wait on it), so a waiting browser costs at most 1000/intervalMs reads per second
 * whatever the number waiting; a change made on THIS instance (`changed`) wakes its waiters at once
 * with no read at all.
 */
export interface AttemptNotifier {
  /**
   * Resolves with the attempt once its version differs from `knownVersion` (null: it is gone), or
   * with 'timeout' after `timeoutMs` / when `signal` aborts.
   */
  wait(id: string, knownVersion: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptView | null | 'timeout'>;
  /** This instance changed the attempt (e.g. the phone's 确认 landed here): wake its waiters now. */
  changed(view: AttemptView): void;
  /** reads done by the poller so far, and attempts watched now (benchmarks, tests) */
  stats(): { reads: number; watching: number };
  stop(): void;
}

/** 2 reads per second per waiting attempt at most (the budget); worst-case delay ≈ one interval. */
export const NOTIFY_INTERVAL_MS = 500;

interface Waiter {
  knownVersion: number;
  resolve(result: AttemptView | null | 'timeout'): void;
}

export function createDbNotifier(store: Store, options: { intervalMs?: number; clock?: () => Date } = {}): AttemptNotifier {
  const intervalMs = options.intervalMs ?? NOTIFY_INTERVAL_MS;
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
      await Promise.all(
        ids.map(async (id) => {
          reads++;
          try {
            deliver(id, toView(id, await store.getRecord(`attempt:${id}`), clock()));
          } catch {
            // the store is down for a moment: the waiters keep waiting until their timeout
          }
        }),
      );
    } finally {
      polling = false;
      schedule();
    }
  };

  const schedule = () => {
    if (timer || polling || !watched.size) return;
    timer = setTimeout(poll, intervalMs);
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
