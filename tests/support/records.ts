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
