import type { Store } from './types.js';

/**
 * A store whose implementation module is imported on the first call that needs it. The MongoDB
 * driver costs ~120 ms of a cold start (docs/BENCH.md); with this wrapper a request that touches no
 * data (`/api/auth/health`) never loads it, and the first login loads it once per process.
 * `kind` is known without loading; `close()` before any use loads nothing.
 */
export function lazyStore(kind: Store['kind'], load: () => Promise<Store>): Store {
  let loaded: Promise<Store> | undefined;
  const get = () => {
    loaded ??= load();
    // A failed import (e.g. a broken deploy) is retried by the next request, not cached forever.
    loaded.catch(() => (loaded = undefined));
    return loaded;
  };
  const methods = new Map<PropertyKey, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy({} as Store, {
    get(_target, prop) {
      if (prop === 'kind') return kind;
      // Not a thenable: `await lazyStore(...)` must not try to call a `then` method.
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      if (prop === 'close') return async () => (loaded ? (await loaded).close() : undefined);
      let method = methods.get(prop);
      if (!method) {
        method = async (...args: unknown[]) => {
          const store = (await get()) as unknown as Record<PropertyKey, (...a: unknown[]) => Promise<unknown>>;
          return store[prop]!(...args);
        };
        methods.set(prop, method);
      }
      return method;
    },
  });
}
