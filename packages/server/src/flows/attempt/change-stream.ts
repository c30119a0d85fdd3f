import type { Logger } from '../../log.js';
import type { ChangeStreamLike, RecordChangeSource } from '../../store/mongo-changes.js';
import type { Storage } from '../../store/types.js';
import { ATTEMPT_ID_PATTERN, attemptOfChange, toView, type AttemptViewRecord } from './attempt.js';
import { createPoller, createWaiters, queriesFor, readAndDeliver, NOTIFY_MIN_INTERVAL_MS, type AttemptNotifier, type PollOptions } from './notify.js';

/**
 * The PC-login notifier for MongoDB servers that have change streams (Atlas, any replica set):
 * ONE change stream per instance on the records collection wakes that instance's waiters the moment
 * another instance writes the attempt's next version — no per-browser reads at all.
 *
 *   - The stream opens when the first PC waits and closes after `idleCloseMs` with nobody waiting
 *     (an open stream holds a pooled connection; a serverless instance should be able to idle).
 *   - Subscribe, then read: a waiter is registered first and its attempt is then read once (reads
 *     of waiters that arrive together are batched, ≤ 1000 / minIntervalMs queries per second), so a
 *     change that landed between the route's read and the registration is not missed. When the
 *     stream (re)opens, every watched attempt is read once for the same reason.
 *   - Until the stream is open, and while it reconnects after an error, the DbNotifier's polling
 *     serves the waiters; no waiter is ever dropped on a stream error.
 *   - A transient error reopens the stream with the last resume token (the driver already resumes
 *     by itself after network errors and elections; what reaches us is what it could not resume).
 *   - The server refuses change streams (FerretDB: 238 NotImplemented; standalone mongod: 40573) or
 *     the stream fails `maxFailures` times within `failureWindowMs`: polling for good, logged once.
 *   - Change streams carry no "it expired" event: a timer per watched attempt wakes its waiters at
 *     the attempt's expiresAt.
 */
export interface ChangeStreamNotifierOptions extends PollOptions {
  store: Pick<Storage, 'records'>;
  source: RecordChangeSource;
  logger: Logger;
  /** close the stream after this long with nobody waiting (default 10 s) */
  idleCloseMs?: number;
  /** reopen delay after the n-th consecutive failure: retryDelayMs × 2^(n-1) (default 200 ms) */
  retryDelayMs?: number;
  /** this many stream failures within failureWindowMs → polling for good (default 3 in 60 s) */
  maxFailures?: number;
  failureWindowMs?: number;
}

/** Server answers that mean "this deployment has no change streams": no point in retrying. */
const REFUSAL_CODES = new Set([
  238, // NotImplemented (FerretDB v1)
  40573, // "The $changeStream stage is only supported on replica sets" (standalone mongod)
  40324, // Unrecognized pipeline stage name (servers before 3.6, other look-alikes)
  115, // CommandNotSupported
  13, // Unauthorized: the user lacks the changeStream privilege
]);
/** the resume token is no good any more: reopen without it (and read everything once) */
const TOKEN_LOST_CODES = new Set([286, 260, 280]); // ChangeStreamHistoryLost, InvalidResumeToken, ChangeStreamFatalError

/** what a change event carries of an attempt: a status view's fields (attempt.ts AttemptViewFields), `match` included — the PC's status answers show it */
export const ATTEMPT_VALUE_FIELDS = ['status', 'expiresAt', 'device', 'createdAt', 'match'];

type State = 'idle' | 'opening' | 'live' | 'retrying' | 'polling';

export function createChangeStreamNotifier(options: ChangeStreamNotifierOptions): AttemptNotifier {
  const { store, source, logger } = options;
  const clock = options.clock ?? (() => new Date());
  const idleCloseMs = options.idleCloseMs ?? 10_000;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const maxFailures = options.maxFailures ?? 3;
  const failureWindowMs = options.failureWindowMs ?? 60_000;
  const minIntervalMs = options.minIntervalMs ?? NOTIFY_MIN_INTERVAL_MS;

  let reads = 0;
  const waiters = createWaiters();
  // polling: on while the stream is not live (opening, reconnecting) and for good after a fallback
  const poller = createPoller(store, waiters, { ...options, active: false, countReads: (queries) => (reads += queries) });

  let state: State = 'idle';
  let stream: ChangeStreamLike | null = null;
  let generation = 0;
  let resumeToken: unknown;
  let failures: number[] = [];
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  // ---- catch-up reads (subscribe, then read), batched ----
  const pending = new Set<string>();
  let catchUpTimer: ReturnType<typeof setTimeout> | null = null;
  let lastCatchUp = -Infinity;
  let lastCatchUpQueries = 1;
  const flushCatchUp = async () => {
    catchUpTimer = null;
    const ids = [...pending].filter((id) => waiters.has(id));
    pending.clear();
    if (!ids.length || stopped) return;
    lastCatchUp = performance.now();
    lastCatchUpQueries = queriesFor(ids.length);
    reads += lastCatchUpQueries;
    await readAndDeliverWithExpiry(ids);
  };
  const catchUp = (ids: string[]) => {
    for (const id of ids) pending.add(id);
    if (catchUpTimer || !pending.size) return;
    // ≤ 1000 / minIntervalMs queries per second, like the poller
    catchUpTimer = setTimeout(flushCatchUp, Math.max(0, lastCatchUp + minIntervalMs * lastCatchUpQueries - performance.now()));
    catchUpTimer.unref?.();
  };

  // ---- expiry: no event says "expired"; wake the waiters at the attempt's expiresAt ----
  const expiryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  const watchExpiry = (id: string, record: AttemptViewRecord) => {
    const view = toView(id, record, clock());
    const old = expiryTimers.get(id);
    if (old) clearTimeout(old);
    expiryTimers.delete(id);
    if (!view || (view.status !== 'waiting' && view.status !== 'scanned') || !waiters.has(id)) return;
    const timer = setTimeout(() => {
      expiryTimers.delete(id);
      waiters.deliver(id, toView(id, record, clock()));
    }, Math.max(0, view.expiresAt.getTime() - clock().getTime()) + 5);
    timer.unref?.();
    expiryTimers.set(id, timer);
  };
  const readAndDeliverWithExpiry = (ids: string[]) => readAndDeliver(store, waiters, ids, clock, watchExpiry);
  waiters.onEmpty((id) => {
    const timer = expiryTimers.get(id);
    if (timer) clearTimeout(timer);
    expiryTimers.delete(id);
    if (!waiters.size()) armIdleClose();
  });

  // ---- the stream ----
  const setState = (next: State) => {
    state = next;
    poller.setActive(next !== 'live' && next !== 'idle');
  };

  const closeStream = () => {
    generation++;
    const old = stream;
    stream = null;
    old?.close().catch(() => {});
  };

  const fallBack = (reason: string, code?: unknown) => {
    if (state === 'polling') return;
    closeStream();
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    setState('polling');
    logger.log('warn', 'pc.notifier.fallback_polling', { reason, ...(code === undefined || code === null ? {} : { mongoCode: code }) });
    // whatever the stream may have missed is read now
    if (waiters.size()) catchUp(waiters.ids());
  };

  const failed = (gen: number, error: unknown) => {
    if (gen !== generation || stopped || state === 'polling') return;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'number' && REFUSAL_CODES.has(code)) return fallBack('change streams refused by the server', code);
    if (typeof code === 'number' && TOKEN_LOST_CODES.has(code)) resumeToken = undefined;
    const now = performance.now();
    failures = [...failures.filter((t) => now - t < failureWindowMs), now];
    if (failures.length >= maxFailures) return fallBack(`the change stream failed ${failures.length} times`, code);
    logger.log('warn', 'pc.notifier.stream_error', { mongoCode: code ?? null, failures: failures.length });
    closeStream();
    setState('retrying');
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (waiters.size()) open();
      else setState('idle');
    }, retryDelayMs * 2 ** (failures.length - 1));
    retryTimer.unref?.();
  };

  const open = () => {
    if (stopped || stream || state === 'polling') return;
    const gen = ++generation;
    setState(state === 'retrying' ? 'retrying' : 'opening');
    source.open(resumeToken).then(
      (opened) => {
        if (gen !== generation || stopped) {
          opened.close().catch(() => {});
          return;
        }
        stream = opened;
        opened.on('init', () => {
          if (gen !== generation) return;
          setState('live');
          // what happened before the stream started (or while it was down) is read once
          if (waiters.size()) catchUp(waiters.ids());
        });
        opened.on('change', (change: { _id?: unknown }) => {
          if (gen !== generation) return;
          if (change?._id !== undefined) resumeToken = change._id;
          const parsed = source.parse(change);
          if (!parsed) return;
          const id = parsed.rid.slice('attempt:'.length);
          if (!waiters.has(id)) return;
          // (the parser is built once, on first use: events keep their order)
          void attemptOfChange(parsed.record).then((record) => {
            if (!record || gen !== generation) return; // fields that do not parse: the next poll/catch-up reads the record itself
            waiters.deliver(id, toView(id, record, clock()));
            if (waiters.has(id)) watchExpiry(id, record);
          });
        });
        opened.on('resumeTokenChanged', (token: unknown) => {
          if (gen === generation && token !== undefined) resumeToken = token;
        });
        opened.on('error', (error: unknown) => failed(gen, error));
        // the driver closes the stream after an error it could not resume; an 'error' next to it decides
        opened.on('close', () => setTimeout(() => failed(gen, null), 20).unref?.());
      },
      (error) => failed(gen, error),
    );
  };

  const armIdleClose = () => {
    if (idleTimer || state === 'polling') return;
    idleTimer = setTimeout(() => {
      idleTimer = null;
      if (waiters.size() || state === 'polling' || state === 'retrying') return;
      closeStream();
      resumeToken = undefined;
      setState('idle');
    }, idleCloseMs);
    idleTimer.unref?.();
  };

  return {
    wait(id, knownVersion, timeoutMs, signal) {
      if (!ATTEMPT_ID_PATTERN.test(id)) return Promise.resolve(null);
      return waiters.add(id, knownVersion, timeoutMs, signal, () => {
        if (idleTimer) clearTimeout(idleTimer);
        idleTimer = null;
        if (state === 'idle') open();
        if (state === 'live') catchUp([id]);
        poller.kick();
      });
    },
    changed(view) {
      waiters.deliver(view.id, view);
    },
    stats: () => ({ reads, watching: waiters.size(), source: state === 'live' ? 'change-stream' : 'polling' }),
    stop() {
      stopped = true;
      closeStream();
      for (const timer of [retryTimer, idleTimer, catchUpTimer, ...expiryTimers.values()]) if (timer) clearTimeout(timer);
      expiryTimers.clear();
      poller.stop();
      waiters.clear();
    },
  };
}
