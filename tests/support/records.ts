// Test helpers over a Storage's RecordPort, in the shape tests used before the ports (issue 20).
import type { Storage, StoreStats } from '../../packages/server/src/store/types.js';

/** The live record `id` at `now` (default: this process's clock); `expiresAt` only when it has one. */
export async function getRecord(storage: Pick<Storage, 'records'>, id: string, now: Date = new Date()) {
  const found = (await storage.records.get([id], now)).get(id);
  if (!found) return null;
  return { value: found.value, version: found.version, ...(found.expiresAt ? { expiresAt: found.expiresAt } : {}) };
}

/** RecordPort.put as a yes/no, on this process's clock. */
export async function compareAndSetRecord(storage: Pick<Storage, 'records'>, id: string, value: Record<string, unknown>, expected: number | null, expiresAt?: Date | null): Promise<boolean> {
  return (await storage.records.put(id, value, expected, expiresAt ?? null, new Date())) !== null;
}

/** Document counts of the embedded or MongoDB store (not part of Storage). */
export function storeStats(storage: Storage): Promise<StoreStats> {
  return (storage as unknown as { stats(): Promise<StoreStats> }).stats();
}

type Ports = Pick<Storage, 'sessions' | 'accounts' | 'records' | 'blobs' | 'counters'>;

/** `inner` with some methods of one port replaced (the rest of that port and every other port as they are). */
export function withPort<P extends keyof Ports>(inner: Storage, port: P, overrides: Partial<Record<keyof Ports[P], (...args: never[]) => unknown>>): Storage {
  return {
    kind: inner.kind,
    sessions: inner.sessions,
    accounts: inner.accounts,
    records: inner.records,
    blobs: inner.blobs,
    counters: inner.counters,
    [port]: { ...inner[port], ...overrides },
    ping: () => inner.ping(),
    sweepExpired: (now: Date) => inner.sweepExpired(now),
    close: () => inner.close(),
  };
}

const PORT_NAMES = ['sessions', 'accounts', 'records', 'blobs', 'counters'] as const;

/**
 * `inner` with every port method call reported as `<port>.<method>` (before it runs; `before` may
 * delay it, throw, or answer instead of it), and ping/sweepExpired as their own names.
 */
export function metered(inner: Storage, before: (call: string, args: unknown[]) => unknown): Storage {
  const wrap = (port: (typeof PORT_NAMES)[number]) =>
    Object.fromEntries(
      Object.entries(inner[port] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).map(([name, fn]) => [
        name,
        async (...args: unknown[]) => {
          // an answer from `before` (not undefined) stands for the call's own
          const answer = await before(`${port}.${name}`, args);
          return answer !== undefined ? answer : fn(...args);
        },
      ]),
    );
  return {
    kind: inner.kind,
    sessions: wrap('sessions') as unknown as Storage['sessions'],
    accounts: wrap('accounts') as unknown as Storage['accounts'],
    records: wrap('records') as unknown as Storage['records'],
    blobs: wrap('blobs') as unknown as Storage['blobs'],
    counters: wrap('counters') as unknown as Storage['counters'],
    ping: async () => (await before('ping', []), inner.ping()),
    sweepExpired: async (now: Date) => (await before('sweepExpired', [now]), inner.sweepExpired(now)),
    close: () => inner.close(),
  };
}
