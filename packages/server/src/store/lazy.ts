import type { RecordChangeSource } from './mongo-changes.js';
import type { Storage } from './types.js';

const PORTS = ['sessions', 'accounts', 'records', 'blobs', 'counters'] as const;
type Port = (typeof PORTS)[number];
type AnyPort = Record<string, (...args: unknown[]) => Promise<unknown>>;

/**
 * A storage whose implementation module is imported on the first call that needs it. The MongoDB
 * driver costs ~120 ms of a cold start (docs/BENCH.md); with this wrapper a request that touches no
 * data (`/api/auth/health`) never loads it, and the first login loads it once per process.
 * `kind` is known without loading; `close()` before any use loads nothing. Each port is a Proxy
 * that forwards any method to the loaded storage's port (one forwarding function per method, made
 * on its first use).
 */
export function lazyStorage(kind: string, load: () => Promise<Storage>, options: { changes?: boolean } = {}): Storage {
  let loaded: Promise<Storage> | undefined;
  const get = () => {
    loaded ??= load();
    // A failed import (e.g. a broken deploy) is retried by the next request, not cached forever.
    loaded.catch(() => (loaded = undefined));
    return loaded;
  };
  const port = (name: Port): AnyPort => {
    const methods = new Map<string, AnyPort[string]>();
    return new Proxy({} as AnyPort, {
      get(_target, prop) {
        // Not a thenable: `await storage.sessions` must not try to call a `then` method.
        if (prop === 'then' || typeof prop === 'symbol') return undefined;
        let method = methods.get(prop);
        if (!method) methods.set(prop, (method = async (...args: unknown[]) => ((await get())[name] as unknown as AnyPort)[prop]!(...args)));
        return method;
      },
    });
  };
  const storage: Storage = {
    kind,
    sessions: port('sessions') as unknown as Storage['sessions'],
    accounts: port('accounts') as unknown as Storage['accounts'],
    records: port('records') as unknown as Storage['records'],
    blobs: port('blobs') as unknown as Storage['blobs'],
    counters: port('counters') as unknown as Storage['counters'],
    ping: async () => (await get()).ping(),
    sweepExpired: async (now) => (await get()).sweepExpired(now),
    migrate: async () => (await get()).migrate?.(),
    close: async () => (loaded ? (await loaded).close() : undefined),
    // the import starts now; a failed one is retried (and reported) by the next operation
    warm: () => void get().then((inner) => inner.warm?.(), () => {}),
  };
  if (options.changes) {
    storage.recordChanges = (prefix, valueFields) => {
      let inner: RecordChangeSource | undefined;
      return {
        async open(resumeAfter) {
          const loadedStorage = await get();
          inner ??= loadedStorage.recordChanges?.(prefix, valueFields);
          if (!inner) throw Object.assign(new Error('this storage has no change streams'), { code: 238 });
          return inner.open(resumeAfter);
        },
        parse: (change) => inner?.parse(change) ?? null,
      };
    };
  }
  return storage;
}
