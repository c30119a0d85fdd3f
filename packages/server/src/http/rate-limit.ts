import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { clientAddress, type ClientAddressSettings } from './client-address.js';
import type { CounterWrite, Storage } from '../store/types.js';

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
 *
 * An instance's first sync runs as soon as its first limited request is answered (`answered()`, or
 * one interval after that request at the latest), not beside it: on a cold instance that request's
 * own queries have the new connection pool to themselves (docs/BENCH.md "Cold first login").
 */
export interface RateLimiterOptions {
  store: Pick<Storage, 'counters'>;
  logger?: Logger;
  syncIntervalMs?: number;
  /** ms since epoch */
  clock?: () => number;
  /** names this instance's counter documents; random by default */
  instance?: string;
}

export interface RateRule {
  key: string;
  limit: number;
  windowMs: number;
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
  hit(rules: RateRule[]): RateDecision {
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

  /** A limited request was answered (rateLimit / attemptLimit): an instance's first sync may run now. */
  answered(): void {
    if (this.lastSync !== 0 || !this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.schedule(this.clock(), 0);
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

  private schedule(now: number, delay = this.lastSync === 0 ? this.interval : Math.max(0, this.lastSync + this.interval - now)): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.sync();
    }, delay);
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
      const totals = await this.options.store.counters.sync(this.instance, counts, new Date(now));
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

export interface RateLimitSettings {
  /** requests per minute per client address, over all limited endpoints; 0 = off */
  perAddress: number;
  /**
   * WeChat calls per minute per AppID made for requests (a login's code exchange, a follow QR, a
   * phone number…), charged just before each call — after the request passed validation; 0 = off
   */
  perAppid: number;
  /** a PC's own status / events / collect requests per minute per login attempt; 0 = off */
  perPcAttempt: number;
  /** where the client's address comes from (client-address.ts) */
  address: ClientAddressSettings;
}

export const MINUTE_MS = 60_000;
/**
 * Follow-to-login's own limit (docs/SECURITY.md): new official-account QR codes — one
 * qrcode/create call each, from the account's daily quota — per client address per 10 minutes.
 * A browser reuses its QR while it lives, so a person never comes near it.
 */
export const FOLLOW_QR_LIMIT = { limit: 10, windowMs: 10 * MINUTE_MS };

/**
 * How a door's sub-path is limited: per client address, per login attempt (a PC's own status
 * requests; the door's `attemptOf` names the attempt), or not at all (WeChat's signed pushes). Doors
 * declare it (doors/), app.ts applies it.
 */
export type LimitClass = 'address' | 'attempt' | 'none';

/** 关注公众号登录: a new parametric QR spends the official account's qrcode/create quota — its own per-address limit; throws too_many_requests. */
export function followQrLimiter(limiter: RateLimiter, settings: RateLimitSettings, logger: { log(level: 'info', event: string, fields: Record<string, unknown>): void }) {
  return (c: Context) => {
    const key = `follow-qr:${addressBucket(c, settings)}`;
    const decision = limiter.hit([{ key, ...FOLLOW_QR_LIMIT, limit: settings.perAddress === 0 ? 0 : FOLLOW_QR_LIMIT.limit }]);
    if (decision.allowed) return;
    logger.log('info', 'http.rate_limited', { path: c.req.path, errorCode: 'too_many_requests', retryAfter: decision.retryAfter });
    throw new RateLimitedError(decision.retryAfter); // 429 + Retry-After (onError), as the per-AppID limit
  };
}

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

/** The address bucket's key of this request ('unknown' when no address is known). */
export function addressBucket(c: Context, settings: RateLimitSettings): string {
  const address = clientAddress(c, settings.address);
  return `addr:${address ? addressKey(address) : 'unknown'}`;
}

/**
 * Middleware: 429 too_many_requests with Retry-After when the client's address is over its limit.
 * (The AppID's limit is charged later, just before a WeChat call: appidQuota.)
 */
export function rateLimit(limiter: RateLimiter, settings: RateLimitSettings, refuse: (c: Context, retryAfter: number) => Response): MiddlewareHandler {
  return async (c, next) => {
    const decision = limiter.hit([{ key: addressBucket(c, settings), limit: settings.perAddress, windowMs: MINUTE_MS }]);
    try {
      if (!decision.allowed) return refuse(c, decision.retryAfter);
      await next();
    } finally {
      limiter.answered();
    }
  };
}

/** How many attempt-watching requests an address may make per minute over all its attempts, in units of perAddress. */
export const ATTEMPT_WATCH_ADDRESS_FACTOR = 10;

/**
 * Middleware for the 'attempt' class: a client's own requests about its login attempt (the PC
 * login's status, events, collect; the door's `attemptOf` reads the attempt's id from its cookie).
 * With an attempt they are counted per attempt — not in the address bucket, so many PCs waiting
 * behind one office NAT neither starve that address's logins nor are starved by them — and,
 * against an address minting attempts to multiply its budget, in a separate per-address bucket
 * ATTEMPT_WATCH_ADDRESS_FACTOR times the address limit. Without one they are ordinary anonymous
 * requests (address bucket).
 */
export function attemptLimit(
  limiter: RateLimiter,
  settings: RateLimitSettings,
  /** the door's name: its buckets' prefix (the PC login's: `pc:<attempt>`, `pc-addr:<address>`) */
  door: string,
  attemptOf: (c: Context) => string | null,
  refuse: (c: Context, retryAfter: number) => Response,
): MiddlewareHandler {
  return async (c, next) => {
    const attempt = attemptOf(c);
    const address = addressBucket(c, settings);
    const rules: RateRule[] = attempt
      ? [
          { key: `${door}:${attempt}`, limit: settings.perPcAttempt, windowMs: MINUTE_MS },
          { key: `${door}-${address}`, limit: settings.perAddress * ATTEMPT_WATCH_ADDRESS_FACTOR, windowMs: MINUTE_MS },
        ]
      : [{ key: address, limit: settings.perAddress, windowMs: MINUTE_MS }];
    const decision = limiter.hit(rules);
    try {
      if (!decision.allowed) return refuse(c, decision.retryAfter);
      await next();
    } finally {
      limiter.answered();
    }
  };
}

/** A request refused by a limit deep inside a flow (the AppID's WeChat budget); Retry-After in seconds. */
export class RateLimitedError extends AppError {
  constructor(readonly retryAfter: number) {
    super('too_many_requests');
  }
}

/**
 * The per-AppID limit, charged only by requests that are about to spend that app's WeChat quota:
 * wraps each WeChat call made for a request (composition root, main.ts), so junk that fails
 * validation (`{"code":"x"}`, a forged state) never touches the app's budget and cannot lock the
 * app's other users out. Refused: RateLimitedError (429 + Retry-After), and no WeChat call.
 */
export function appidQuota(limiter: RateLimiter, perAppid: number) {
  return async <T>(appid: string | null | undefined, call: () => Promise<T>): Promise<T> => {
    if (appid && perAppid > 0) {
      const decision = limiter.hit([{ key: `app:${appid}`, limit: perAppid, windowMs: MINUTE_MS }]);
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfter);
    }
    return call();
  };
}
