import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DuplicateKeyError,
  LEGACY_TEMPORARY_RECORD,
  type BlobRecord,
  type CounterTotal,
  type CounterWrite,
  type IdentityPatch,
  type IdentityRecord,
  type SessionRecord,
  type AccountPort,
  type BlobPort,
  type CounterPort,
  type RecordPort,
  type SessionPort,
  type Storage,
  type StoredRecord,
  type StoreStats,
  type UserPatch,
  type UserRecord,
} from './types.js';

/**
 * The embedded default store: no server needed. Everything lives in memory (all operations on the
 * maps are synchronous, so check-and-insert is atomic within the process). When `dir` is given,
 * every mutation is appended to a journal (`journal-<n>.ndjson`, one JSON line per changed entry)
 * and the call resolves only once its line is fsync'ed — durable across `kill -9`. Concurrent
 * writes share one write + fdatasync (group commit), so a burst costs a few syscalls, not one full
 * file rewrite per write, and nothing blocks the event loop. When the journal outgrows the live
 * data it is compacted into `store.json` (written to a temp file, fsync'ed, renamed), and replay
 * on start reads `store.json` plus the journals not yet folded into it. One process per data dir.
 */

type MapName = 'claims' | 'identities' | 'users' | 'sessions' | 'records' | 'blobs';
/** A journal line: the entry's full new value, or its deletion (`v` absent). Replay is idempotent. */
interface JournalOp {
  m: MapName;
  k: string;
  v?: unknown;
}

interface EmbeddedRecord {
  value: Record<string, unknown>;
  version: number;
  expiresAt?: Date | null;
}

interface Snapshot {
  /** journals numbered from this one on are not yet in the snapshot (absent in old files: 0) */
  journal?: number;
  claims: Record<string, string>;
  identities: Record<string, IdentityRecord>;
  users: Record<string, UserRecord>;
  sessions: Record<string, SessionRecord>;
  records?: Record<string, EmbeddedRecord>;
  blobs?: Record<string, { id: string; contentType: string; data: string; ownerId?: string | null; createdAt: string }>;
}

/** Compact once the journal is this big and larger than twice the last snapshot. */
const MIN_COMPACT_BYTES = 1 << 20;

export class EmbeddedStore implements Storage {
  readonly kind = 'embedded' as const;
  /** `claims`: only replayed from data written before claims became records (swept as they expire) */
  private readonly m = {
    claims: new Map<string, Date>(),
    identities: new Map<string, IdentityRecord>(),
    users: new Map<string, UserRecord>(),
    sessions: new Map<string, SessionRecord>(),
    records: new Map<string, EmbeddedRecord>(),
    blobs: new Map<string, BlobRecord>(),
    /** rate-limit counters: `<key>\u0000<window>` → instance → count; memory only (one process) */
    counters: new Map<string, { key: string; window: number; expiresAt: number; byInstance: Map<string, number> }>(),
  };
  private readonly dir: string | null;

  private journalNo = 0;
  private journal: FileHandle | null = null;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private buffer: string[] = [];
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(options: { dir: string | null }) {
    this.dir = options.dir;
    if (this.dir) {
      mkdirSync(this.dir, { recursive: true });
      this.load(this.dir);
    }
  }

  readonly sessions: SessionPort = {
    insert: async (session: SessionRecord): Promise<void> => {
      if (this.m.sessions.has(session.id)) throw new DuplicateKeyError(session.id);
      this.m.sessions.set(session.id, clone(session));
      await this.write('sessions', session.id, session);
    },
    get: async (id: string): Promise<SessionRecord | null> => {
      // Expiry is judged by the SessionManager's clock alone (types.ts); expired ones are swept.
      return clone(this.m.sessions.get(id) ?? null);
    },
    updateExpiration: async (id: string, expiresAt: Date): Promise<void> => {
      const session = this.m.sessions.get(id);
      if (!session) return;
      const next = { ...session, expiresAt };
      this.m.sessions.set(id, next);
      await this.write('sessions', id, next);
    },
    delete: async (id: string): Promise<void> => {
      if (this.m.sessions.delete(id)) await this.write('sessions', id);
    },
    deleteByUser: async (userId: string): Promise<void> => {
      const writes: Promise<void>[] = [];
      for (const [id, session] of this.m.sessions) {
        if (session.userId === userId && this.m.sessions.delete(id)) writes.push(this.write('sessions', id));
      }
      await Promise.all(writes);
    },
    listByUser: async (userId: string): Promise<SessionRecord[]> => {
      return [...this.m.sessions.values()].filter((s) => s.userId === userId).map((s) => clone(s));
    },
    setUserCopy: (user) => this.setUserCopy('sessions', user),
    reassign: async (fromUserId: string, toUserId: string): Promise<void> => {
      const writes: Promise<void>[] = [];
      for (const [id, session] of this.m.sessions) {
        if (session.userId === fromUserId) {
          const next = { ...session, userId: toUserId };
          this.m.sessions.set(id, next);
          writes.push(this.write('sessions', id, next));
        }
      }
      await Promise.all(writes);
    },
  };

  readonly accounts: AccountPort = {
    getIdentity: async (key: string): Promise<IdentityRecord | null> => {
      return clone(this.m.identities.get(key) ?? null);
    },
    insertIdentity: async (identity: IdentityRecord): Promise<void> => {
      if (this.m.identities.has(identity.key)) throw new DuplicateKeyError(identity.key);
      this.m.identities.set(identity.key, clone(identity));
      await this.write('identities', identity.key, identity);
    },
    insertIdentities: async (list: IdentityRecord[]): Promise<void> => {
      for (const identity of list) await this.accounts.insertIdentity(identity);
    },
    updateIdentity: async (key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null> => {
      const current = this.m.identities.get(key);
      if (!current) return null;
      const next = { ...current, ...clone(patch), updatedAt: now };
      this.m.identities.set(key, next);
      await this.write('identities', key, next);
      return clone(next);
    },
    listIdentities: async (userId: string): Promise<IdentityRecord[]> => {
      return [...this.m.identities.values()].filter((i) => i.userId === userId).map((i) => clone(i));
    },
    reassignIdentity: async (key: string, fromUserId: string, toUserId: string, now: Date): Promise<boolean> => {
      const current = this.m.identities.get(key);
      if (!current || current.userId !== fromUserId) return false;
      const next = { ...current, userId: toUserId, updatedAt: now };
      this.m.identities.set(key, next);
      await this.write('identities', key, next);
      return true;
    },
    deleteIdentity: async (key: string): Promise<void> => {
      if (this.m.identities.delete(key)) await this.write('identities', key);
    },
    getUser: async (id: string): Promise<UserRecord | null> => {
      return clone(this.m.users.get(id) ?? this.userCopy(id));
    },
    insertUserIfAbsent: async (user: UserRecord): Promise<UserRecord> => {
      const existing = this.m.users.get(user.id);
      if (existing) return clone(existing);
      this.m.users.set(user.id, clone(user));
      await this.write('users', user.id, user);
      return clone(user);
    },
    updateUser: async (id: string, patch: UserPatch, now: Date): Promise<UserRecord | null> => {
      // First change of an account known only by its copy: the record starts from the copy.
      const current = this.m.users.get(id) ?? this.userCopy(id);
      if (!current) return null;
      const next = clone({ ...current, ...patch, updatedAt: now });
      this.m.users.set(id, next);
      await this.write('users', id, next);
      return clone(next);
    },
    deleteUser: async (id: string): Promise<void> => {
      if (this.m.users.delete(id)) await this.write('users', id);
    },
    setUserCopy: (user) => this.setUserCopy('identities', user),
    listMergedInto: async (id: string): Promise<UserRecord[]> => {
      return [...this.m.users.values()].filter((u) => u.mergedInto === id).map((u) => clone(u));
    },
  };

  readonly blobs: BlobPort = {
    put: async (blob: BlobRecord): Promise<void> => {
      const copy = { ...blob, data: Buffer.from(blob.data) };
      this.m.blobs.set(blob.id, copy);
      await this.write('blobs', blob.id, serializeBlob(copy));
    },
    get: async (id: string): Promise<BlobRecord | null> => {
      const blob = this.m.blobs.get(id);
      return blob ? { ...blob, data: Buffer.from(blob.data), ownerId: blob.ownerId ?? null } : null;
    },
    delete: async (id: string): Promise<void> => {
      if (this.m.blobs.delete(id)) await this.write('blobs', id);
    },
  };

  readonly counters: CounterPort = {
    sync: async (instance: string, counts: CounterWrite[], now: Date): Promise<CounterTotal[]> => {
      for (const c of counts) {
        const id = `${c.key}\u0000${c.window}`;
        let entry = this.m.counters.get(id);
        if (!entry) this.m.counters.set(id, (entry = { key: c.key, window: c.window, expiresAt: c.expiresAt.getTime(), byInstance: new Map() }));
        entry.byInstance.set(instance, c.count);
        entry.expiresAt = Math.max(entry.expiresAt, c.expiresAt.getTime());
      }
      const t = now.getTime();
      return counts.map((c) => {
        const entry = this.m.counters.get(`${c.key}\u0000${c.window}`);
        let total = 0;
        if (entry && entry.expiresAt > t) for (const n of entry.byInstance.values()) total += n;
        return { key: c.key, window: c.window, total };
      });
    },
  };

  readonly records: RecordPort = {
    get: async (ids, now) => {
      const found = new Map<string, StoredRecord>();
      for (const id of new Set(ids)) {
        const record = this.m.records.get(id);
        // the caller's clock only (types.ts RecordPort): never this process's own
        if (!record || (record.expiresAt && record.expiresAt.getTime() <= now.getTime())) continue;
        found.set(id, clone({ value: record.value, version: record.version, expiresAt: record.expiresAt ?? null }));
      }
      return found;
    },
    put: async (id, value, expected, expiresAt, now) => {
      const current = this.m.records.get(id);
      const expired = !!current?.expiresAt && current.expiresAt.getTime() <= now.getTime();
      // expected null: absent, or expired at `now` (taken over; the version goes on)
      if (expected === null ? current && !expired : current?.version !== expected) return null;
      const version = (current?.version ?? 0) + 1;
      const next: EmbeddedRecord = { value: clone(value), version, ...(expiresAt ? { expiresAt: new Date(expiresAt) } : {}) };
      this.m.records.set(id, next);
      await this.write('records', id, next);
      return version;
    },
  };

  /** One half of a profile snapshot (types.ts IdentityRecord.user): never over a newer copy. */
  private async setUserCopy(name: 'identities' | 'sessions', user: UserRecord): Promise<void> {
    const map = this.m[name] as Map<string, IdentityRecord | SessionRecord>;
    const writes: Promise<void>[] = [];
    for (const [key, record] of map) {
      if (record.userId !== user.id) continue;
      // Never over a newer copy: of two racing profile changes the later one stays.
      if (record.user?.id === user.id && record.user.updatedAt.getTime() > user.updatedAt.getTime()) continue;
      const next = { ...record, user: clone(user) };
      map.set(key, next);
      writes.push(this.write(name, key, next));
    }
    await Promise.all(writes);
  }

  /** A user whose record is not written yet is known by the copy on its identities (types.ts). */
  private userCopy(id: string): UserRecord | null {
    for (const identity of this.m.identities.values()) if (identity.userId === id && identity.user?.id === id) return identity.user;
    return null;
  }

  async sweepExpired(now: Date): Promise<number> {
    const t = now.getTime();
    const writes: Promise<void>[] = [];
    let removed = 0;
    for (const [k, exp] of this.m.claims) if (exp.getTime() <= t && this.m.claims.delete(k)) writes.push(this.write('claims', k));
    for (const [k, s] of this.m.sessions) if (s.expiresAt.getTime() <= t && this.m.sessions.delete(k)) writes.push(this.write('sessions', k));
    for (const [k, r] of this.m.records) if (r.expiresAt && r.expiresAt.getTime() <= t && this.m.records.delete(k)) writes.push(this.write('records', k));
    removed = writes.length;
    // one counter per instance, as the MongoDB store keeps them
    for (const [k, c] of this.m.counters) if (c.expiresAt <= t && this.m.counters.delete(k)) removed += c.byInstance.size;
    await Promise.all(writes);
    return removed;
  }

  async ping(): Promise<void> {}

  async stats(): Promise<StoreStats> {
    return { users: this.m.users.size, identities: this.m.identities.size, sessions: this.m.sessions.size, records: this.m.records.size };
  }

  /** Entries of every kind, temporary ones included (tests and benchmarks watch growth with it). */
  size(): Record<MapName | 'counters', number> {
    return {
      claims: this.m.claims.size,
      identities: this.m.identities.size,
      users: this.m.users.size,
      sessions: this.m.sessions.size,
      records: this.m.records.size,
      blobs: this.m.blobs.size,
      counters: this.m.counters.size,
    };
  }

  /** Waits for every pending write, then releases the journal. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    const handle = this.journal;
    this.journal = null;
    await handle?.close();
  }

  // -------------------------------------------------------------------------------------------
  // Journal

  private write(m: MapName, k: string, v?: unknown): Promise<void> {
    if (!this.dir) return Promise.resolve();
    this.buffer.push(JSON.stringify(v === undefined ? { m, k } : { m, k, v }));
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.flushing ??= this.flushLoop();
    return done;
  }

  /** Group commit: everything buffered while the previous fsync ran goes out in one write + fsync. */
  private async flushLoop(): Promise<void> {
    while (this.buffer.length) {
      const text = `${this.buffer.join('\n')}\n`;
      const waiters = this.waiters;
      this.buffer = [];
      this.waiters = [];
      try {
        this.journal ??= await open(this.journalFile(this.journalNo), 'a');
        await this.journal.write(text);
        await this.journal.datasync();
        this.journalBytes += Buffer.byteLength(text);
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
      if (this.journalBytes > Math.max(MIN_COMPACT_BYTES, 2 * this.snapshotBytes)) {
        await this.compact().catch(() => {
          /* the journal still holds everything; compaction is retried after the next writes */
        });
      }
    }
    this.flushing = null;
  }

  /**
   * Folds the journal into store.json. The snapshot is taken now (it may include entries whose
   * journal lines are still buffered: they go to the next journal, and replaying them is idempotent).
   */
  private async compact(): Promise<void> {
    const dir = this.dir!;
    const previous = this.journalNo;
    const text = JSON.stringify(this.snapshot(previous + 1));
    await this.journal?.close();
    this.journal = null;
    this.journalNo = previous + 1;
    this.journalBytes = 0;
    const file = join(dir, 'store.json');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    this.snapshotBytes = Buffer.byteLength(text);
    for (let n = previous; n >= 0; n--) {
      try {
        await unlink(this.journalFile(n));
      } catch {
        break; // older ones were removed by earlier compactions
      }
    }
  }

  private journalFile(n: number): string {
    return join(this.dir!, `journal-${n}.ndjson`);
  }

  /**
   * Everything the maps hold, expired entries included: what has expired is decided by the callers'
   * clock and removed by sweepExpired(now), never by the store's own Date.now().
   */
  private snapshot(journal: number): Snapshot {
    return {
      journal,
      claims: Object.fromEntries([...this.m.claims].map(([k, d]) => [k, d.toISOString()])),
      identities: Object.fromEntries(this.m.identities),
      users: Object.fromEntries(this.m.users),
      sessions: Object.fromEntries(this.m.sessions),
      records: Object.fromEntries(this.m.records),
      blobs: Object.fromEntries([...this.m.blobs].map(([k, b]) => [k, serializeBlob(b)])),
    };
  }

  private load(dir: string): void {
    let first = 0;
    const text = readOptional(join(dir, 'store.json'));
    if (text !== null) {
      const data = JSON.parse(text) as Snapshot;
      first = data.journal ?? 0;
      this.snapshotBytes = Buffer.byteLength(text);
      for (const [k, v] of Object.entries(data.claims ?? {})) this.apply({ m: 'claims', k, v });
      for (const [k, v] of Object.entries(data.identities ?? {})) this.apply({ m: 'identities', k, v });
      for (const [k, v] of Object.entries(data.users ?? {})) this.apply({ m: 'users', k, v });
      for (const [k, v] of Object.entries(data.sessions ?? {})) this.apply({ m: 'sessions', k, v });
      for (const [k, v] of Object.entries(data.records ?? {})) this.apply({ m: 'records', k, v });
      for (const [k, v] of Object.entries(data.blobs ?? {})) this.apply({ m: 'blobs', k, v });
    }
    const journals = readdirSync(dir)
      .map((name) => /^journal-(\d+)\.ndjson$/.exec(name))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => Number(m[1]))
      .filter((n) => n >= first)
      .sort((a, b) => a - b);
    for (const n of journals) {
      const lines = readFileSync(this.journalFile(n), 'utf8').split('\n');
      for (const line of lines) {
        if (!line) continue;
        let op: JournalOp;
        try {
          op = JSON.parse(line) as JournalOp;
        } catch {
          break; // a line torn by a crash mid-write was never acknowledged
        }
        this.apply(op);
      }
      this.journalNo = n;
    }
    if (journals.length) this.journalBytes = Buffer.byteLength(readFileSync(this.journalFile(this.journalNo)));
    else this.journalNo = first;
  }

  private apply(op: JournalOp): void {
    const { m, k, v } = op;
    if (v === undefined) {
      this.m[m].delete(k);
      return;
    }
    const o = v as Record<string, any>;
    switch (m) {
      case 'claims':
        this.m.claims.set(k, new Date(v as string));
        break;
      case 'identities':
        this.m.identities.set(k, { ...(o as IdentityRecord), ...reviveCopy(o), createdAt: new Date(o.createdAt), updatedAt: new Date(o.updatedAt) });
        break;
      case 'users':
        this.m.users.set(k, reviveUser(o));
        break;
      case 'sessions':
        this.m.sessions.set(k, { ...(o as SessionRecord), ...reviveCopy(o), createdAt: new Date(o.createdAt), expiresAt: new Date(o.expiresAt) });
        break;
      case 'records': {
        // Login records written before they carried expiresAt (they lived 10 minutes) expire now.
        const expiresAt = o.expiresAt ? new Date(o.expiresAt) : LEGACY_TEMPORARY_RECORD.test(k) ? new Date() : null;
        this.m.records.set(k, { value: o.value, version: o.version, ...(expiresAt ? { expiresAt } : {}) });
        break;
      }
      case 'blobs':
        this.m.blobs.set(k, { id: o.id, contentType: o.contentType, data: Buffer.from(o.data, 'base64'), ownerId: o.ownerId ?? null, createdAt: new Date(o.createdAt) });
        break;
    }
  }
}

function serializeBlob(b: BlobRecord) {
  return { id: b.id, contentType: b.contentType, data: b.data.toString('base64'), ownerId: b.ownerId ?? null, createdAt: b.createdAt.toISOString() };
}

function reviveUser(o: Record<string, any>): UserRecord {
  return {
    ...(o as UserRecord),
    ...(o.phone ? { phone: { ...o.phone, verifiedAt: new Date(o.phone.verifiedAt) } } : {}),
    createdAt: new Date(o.createdAt),
    updatedAt: new Date(o.updatedAt),
  };
}

/** The user copy carried by identities and sessions (types.ts), with its dates revived. */
function reviveCopy(o: Record<string, any>): { user?: UserRecord } {
  return o.user ? { user: reviveUser(o.user) } : {};
}

function readOptional(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function clone<T>(value: T): T {
  return value === null ? value : structuredClone(value);
}
