import type { Logger } from '../log.js';
import type { Storage } from '../store/types.js';

/**
 * Readiness for /api/auth/health: one cheap store ping (MongoDB `ping`), its answer cached for
 * `cacheMs` so a load balancer probing often costs at most one round trip a second per instance.
 * Concurrent checks share the ping in flight; a ping slower than `timeoutMs` counts as down.
 */
export interface Readiness {
  check(): Promise<{ ok: boolean }>;
}

export function createReadiness(options: { store: Pick<Storage, 'ping'>; logger?: Logger; cacheMs?: number; timeoutMs?: number; clock?: () => number }): Readiness {
  const cacheMs = options.cacheMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const clock = options.clock ?? Date.now;
  let cached: { ok: boolean; at: number } | null = null;
  let pending: Promise<{ ok: boolean }> | null = null;

  const ping = async (): Promise<{ ok: boolean }> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        options.store.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`store ping took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return { ok: true };
    } catch (error) {
      options.logger?.log('warn', 'health.store_down', { error });
      return { ok: false };
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    check() {
      if (cached && clock() - cached.at < cacheMs) return Promise.resolve({ ok: cached.ok });
      pending ??= ping().then((result) => {
        cached = { ok: result.ok, at: clock() };
        pending = null;
        return result;
      });
      return pending;
    },
  };
}
