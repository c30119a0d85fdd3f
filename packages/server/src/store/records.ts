import type { z } from 'zod';
import type { Logger } from '../log.js';

/** zod's namespace, handed to a schema builder: schemas are built on first use, never at import. */
export type Zod = typeof import('zod').z;

/**
 * A schema built on first use. Importing zod costs ~60 ms of a cold start (docs/BENCH.md), so no
 * module builds a schema at import time: `/api/auth/health` and every path that parses nothing never
 * load zod; the first use loads it once (a failed import is not cached).
 */
export interface LazySchema<S extends z.ZodType> {
  get(): Promise<S>;
}

export function lazySchema<S extends z.ZodType>(build: (zod: Zod) => S): LazySchema<S> {
  return lazy(() => import('zod').then(({ z }) => build(z)));
}

/** A value loaded once, on first use (a failed load is not cached: the next use tries again). */
export function lazy<T>(load: () => Promise<T>): { get(): Promise<T> } {
  let value: Promise<T> | undefined;
  return {
    get() {
      value ??= load();
      value.catch(() => (value = undefined));
      return value;
    },
  };
}
import { DuplicateKeyError, type Storage, type StoredRecord } from './types.js';

/**
 * Typed temporary records (issue 20, design §4 "one judge of expiry"): the ONE place that decides
 * whether a temporary record is live. Flows define their kind once —
 *
 *   const tickets = defineRecord({ prefix: 'webview-ticket', schema: TicketDoc, ttlMs: 60_000 });
 *   await tickets.create(deps, key, doc);           // expiresAt = clock() + ttl, set here only
 *   const t = await tickets.read(deps, key);         // null when absent, unparseable, or expiresAt <= clock()
 *   await tickets.update(deps, t, { ...t.value, used: true }); // compare-and-set on the version; keeps the expiry
 *
 * — and never compare expiry themselves. The clock is the flow's injected one (deps.clock), handed
 * to the store too, whose own filtering is only an optimisation (same clock, same answer). Values are
 * parsed with zod on read: a stored value that does not parse (an older shape, a hand edit) is
 * treated as absent and logged once per record (per logger, i.e. per instance), never a crash.
 */
export interface RecordDeps {
  /** only the RecordPort is used */
  store: Pick<Storage, 'records'>;
  clock?: () => Date;
  logger?: Logger;
}

/** A live record as read: its value, the version to compare-and-set on, and when it stops being live. */
export interface HeldRecord<T> {
  readonly key: string;
  readonly value: T;
  readonly version: number;
  readonly expiresAt: Date;
}

export interface RecordKind<T extends Record<string, unknown>> {
  readonly prefix: string;
  /** The store id of `key` (`<prefix>:<key>`). */
  id(key: string): string;
  /** Writes a new record and returns it as held; null when one already exists under `key`. Expiry: `expiresAt`, else clock() + (`ttlMs` ?? the kind's ttl). */
  create(deps: RecordDeps, key: string, value: T, expiry?: Expiry): Promise<HeldRecord<T> | null>;
  /** The live record, or null (absent, expired at the injected clock, or not parseable). */
  read(deps: RecordDeps, key: string): Promise<HeldRecord<T> | null>;
  /** The live records among `keys` in one store query (absent, expired and unparseable ones left out). */
  readMany(deps: RecordDeps, keys: readonly string[]): Promise<Map<string, HeldRecord<T>>>;
  /** Compare-and-set on `held.version`: the record as now held, or null when another writer got there first. Keeps the expiry unless told. */
  update(deps: RecordDeps, held: HeldRecord<T>, value: T, expiry?: Expiry): Promise<HeldRecord<T> | null>;
}

export type Expiry = { ttlMs: number } | { expiresAt: Date };

/**
 * Ids whose unparseable value was already logged, per logger (each instance has its own logger,
 * so one instance's memory is never another's: docs/ARCHITECTURE.md "No module-level mutable
 * state"). Bounded: a flood of bad records logs at most LOGGED_LIMIT of them.
 */
const LOGGED_LIMIT = 1000;
const loggedBy = new WeakMap<Logger, Set<string>>();

export function nowOf(deps: { clock?: () => Date }): Date {
  return deps.clock?.() ?? new Date();
}

export function defineRecord<T extends Record<string, unknown>>(def: { prefix: string; schema: (zod: Zod) => z.ZodType<T>; ttlMs: number }): RecordKind<T> {
  const schema = lazySchema(def.schema);
  const id = (key: string) => `${def.prefix}:${key}`;
  const until = (deps: RecordDeps, expiry: Expiry | undefined): Date =>
    expiry && 'expiresAt' in expiry ? expiry.expiresAt : new Date(nowOf(deps).getTime() + (expiry?.ttlMs ?? def.ttlMs));

  function judge(deps: RecordDeps, parser: z.ZodType<T>, key: string, record: StoredRecord | null | undefined, now: Date): HeldRecord<T> | null {
    // the judgement: a temporary record is live strictly before its expiresAt, on the injected clock
    if (!record || !record.expiresAt || record.expiresAt.getTime() <= now.getTime()) return null;
    const parsed = parser.safeParse(record.value);
    if (!parsed.success) {
      const rid = id(key);
      let logged = deps.logger ? loggedBy.get(deps.logger) : undefined;
      if (deps.logger && !logged) loggedBy.set(deps.logger, (logged = new Set()));
      if (logged && !logged.has(rid) && logged.size < LOGGED_LIMIT) {
        logged.add(rid);
        deps.logger?.log('warn', 'store.record.unparseable', { kind: def.prefix, issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.code}`) });
      }
      return null;
    }
    return { key, value: parsed.data, version: record.version, expiresAt: record.expiresAt };
  }

  return {
    prefix: def.prefix,
    id,
    async create(deps, key, value, expiry) {
      const expiresAt = until(deps, expiry);
      const parsed = (await schema.get()).parse(value);
      const version = await deps.store.records.put(id(key), parsed, null, expiresAt, nowOf(deps));
      return version === null ? null : { key, value: parsed, version, expiresAt };
    },
    async read(deps, key) {
      const now = nowOf(deps);
      const [parser, found] = await Promise.all([schema.get(), deps.store.records.get([id(key)], now)]);
      return judge(deps, parser, key, found.get(id(key)), now);
    },
    async readMany(deps, keys) {
      const now = nowOf(deps);
      const [parser, found] = await Promise.all([schema.get(), deps.store.records.get(keys.map(id), now)]);
      const live = new Map<string, HeldRecord<T>>();
      for (const key of keys) {
        const held = judge(deps, parser, key, found.get(id(key)), now);
        if (held) live.set(key, held);
      }
      return live;
    },
    async update(deps, held, value, expiry) {
      const expiresAt = expiry ? until(deps, expiry) : held.expiresAt;
      const parsed = (await schema.get()).parse(value);
      const version = await deps.store.records.put(id(held.key), parsed, held.version, expiresAt, nowOf(deps));
      return version === null ? null : { key: held.key, value: parsed, version, expiresAt };
    },
  };
}

/**
 * A one-time claim of `id` until `expiresAt` (a used OAuth state's hash): throws DuplicateKeyError
 * while a claim of it is live at the injected clock; an expired claim may be claimed again, by
 * exactly one of any number of racers (RecordPort.put over an expired record).
 */
export async function claimOnce(deps: RecordDeps, id: string, expiresAt: Date): Promise<void> {
  if ((await deps.store.records.put(id, {}, null, expiresAt, nowOf(deps))) === null) throw new DuplicateKeyError(id);
}
