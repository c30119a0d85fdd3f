import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from '../log.js';
import type { CounterWrite, Store } from '../store/types.js';

/**
 * Fixed-window rate limits that hold across instances without a database round trip per request.
 *
 * Each instance counts locally and decides at once from `local + others`, where `others` is what
 * the other instances had counted for the same key and window at the last sync. A background sync
 * (at most one per `syncIntervalMs`, only while traffic arrives) writes this instance's absolute
 * counts (one delete + one insert on MongoDB) and reads every instance's totals back (Store.syncCounters). So the
 * login path never waits for the store, and a limit is exceeded by at most what the other instances
 * admit between two syncs (about a second). When the store is down the limits still hold per
 * instance. Denied requests are not counted: a client that stops is let in again next window.
 */
export interface RateLimiterOptions {
  store: Pick<Store, 'syncCounters'>;
  logger?: Logger;
  syncIntervalMs?: number;
  /** ms since epoch */
  clock?: () => number;
  /** names this instance's counter documents; random by default */
  instance?: string;
}

export interface RateDecision {
  allowed: boolean;
  /** seconds until the window that refused the request ends (Retry-After) */
  retryAfter: number;
}

interface Entry {
  key: string;
  window: number;
  windowMs: number;
  local: number;
  /** what the other instances had counted at the last sync */
  others: number;
  /** asked about since the last sync: only these are written and read (bounded work per sync) */
  touched: boolean;
}

export class RateLimiter {
  readonly instance: string;
  private readonly entries = new Map<string, Entry>();
  private readonly interval: number;
  private readonly clock: () => number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private syncing: Promise<void> | null = null;
  private lastSync = 0;

  constructor(private readonly options: RateLimiterOptions) {
    this.instance = options.instance ?? randomUUID();
    this.interval = options.syncIntervalMs ?? 1000;
    this.clock = options.clock ?? Date.now;
  }

  /** Counts one request against every rule; refused if any rule is at its limit (nothing counted then). */
  hit(rules: { key: string; limit: number; windowMs: number }[]): RateDecision {
    const now = this.clock();
    const active = rules.filter((r) => r.limit > 0);
    const entries = active.map((r) => this.entry(r.key, r.windowMs, now));
    for (const e of entries) e.touched = true;
    let retryAfter = 0;
    active.forEach((rule, i) => {
      const e = entries[i]!;
      if (e.local + e.others >= rule.limit) retryAfter = Math.max(retryAfter, Math.ceil((e.window + e.windowMs - now) / 1000));
    });
    this.schedule(now);
    if (retryAfter > 0) return { allowed: false, retryAfter };
    for (const e of entries) e.local++;
    return { allowed: true, retryAfter: 0 };
  }

  /** Writes this instance's counts and reads the totals; one call at a time. */
  sync(): Promise<void> {
    this.syncing ??= this.runSync().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private entry(key: string, windowMs: number, now: number): Entry {
    const window = Math.floor(now / windowMs) * windowMs;
    const id = `${key}|${window}`;
    let e = this.entries.get(id);
    if (!e) this.entries.set(id, (e = { key, window, windowMs, local: 0, others: 0, touched: false }));
    return e;
  }

  private schedule(now: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.sync();
    }, Math.max(0, this.lastSync + this.interval - now));
    this.timer.unref?.();
  }

  private async runSync(): Promise<void> {
    const now = this.clock();
    this.lastSync = now;
    for (const [id, e] of this.entries) if (e.window + e.windowMs <= now) this.entries.delete(id);
    const live = [...this.entries.values()].filter((e) => e.touched);
    if (!live.length) return;
    for (const e of live) e.touched = false;
    const written = live.map((e) => e.local);
    const counts: CounterWrite[] = live.map((e, i) => ({
      key: e.key,
      window: e.window,
      count: written[i]!,
      // kept one extra window so a late sync of a neighbour still finds it
      expiresAt: new Date(e.window + 2 * e.windowMs),
    }));
    try {
      const totals = await this.options.store.syncCounters(this.instance, counts, new Date(now));
      totals.forEach((t, i) => {
        const e = live[i]!;
        if (t.key === e.key && t.window === e.window) e.others = Math.max(0, t.total - written[i]!);
      });
    } catch (error) {
      // Limits keep holding per instance; the next request schedules another try.
      for (const e of live) e.touched = true;
      this.options.logger?.log('warn', 'rate_limit.sync_failed', { error });
    }
  }
}

/** Where the client's address comes from; headers are trusted only when the deployment sets them. */
export type ClientAddressSource = 'socket' | 'x-forwarded-for' | 'x-real-ip';

/**
 * The client's address for rate limiting. `x-forwarded-for` takes the right-most entry: the one
 * the nearest trusted proxy appended (Vercel replaces the header with the client's address, so
 * there is only one). Without a trusted header, the TCP peer of the Node server is used.
 */
export function clientAddress(c: Context, source: ClientAddressSource): string {
  if (source === 'x-forwarded-for') {
    const last = c.req.header('x-forwarded-for')?.split(',').map((s) => s.trim()).filter(Boolean).pop();
    if (last) return last;
  } else if (source === 'x-real-ip') {
    const value = c.req.header('x-real-ip')?.trim();
    if (value) return value;
  }
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

export interface RateLimitSettings {
  /** requests per minute per client address, over all limited endpoints; 0 = off */
  perAddress: number;
  /** requests per minute per AppID (each spends that app's WeChat quota or writes a record); 0 = off */
  perAppid: number;
  addressSource: ClientAddressSource;
}

export const MINUTE_MS = 60_000;

/**
 * The rate-limit key of an address: IPv4 as is (also when IPv4-mapped, `::ffff:1.2.3.4`); IPv6 by
 * its /64 prefix, since one subscriber usually gets a whole /64 and could rotate through it.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const bare = address.replace(/%.*$/, '').toLowerCase(); // zone id
  const [head, tail] = bare.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return bare;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Middleware: 429 too_many_requests with Retry-After when the address or the AppID is over its limit. */
export function rateLimit(
  limiter: RateLimiter,
  settings: RateLimitSettings,
  appid: string | null,
  refuse: (c: Context, retryAfter: number) => Response,
): MiddlewareHandler {
  return async (c, next) => {
    const rules = [{ key: `addr:${addressKey(clientAddress(c, settings.addressSource))}`, limit: settings.perAddress, windowMs: MINUTE_MS }];
    if (appid) rules.push({ key: `app:${appid}`, limit: settings.perAppid, windowMs: MINUTE_MS });
    const decision = limiter.hit(rules);
    if (!decision.allowed) return refuse(c, decision.retryAfter);
    await next();
  };
}
