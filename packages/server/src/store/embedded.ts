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
  type Store,
  type StoreStats,
  type UserPatch,
  type UserRecord,
  type VersionedRecord,
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

interface StoredRecord extends VersionedRecord {
  expiresAt?: Date | null;
}

interface Snapshot {
  /** journals numbered from this one on are not yet in the snapshot (absent in old files: 0) */
  journal?: number;
  claims: Record<string, string>;
  identities: Record<string, IdentityRecord>;
  users: Record<string, UserRecord>;
  sessions: Record<string, SessionRecord>;
  records?: Record<string, StoredRecord>;
  blobs?: Record<string, { id: string; contentType: string; data: string; ownerId?: string | null; createdAt: string }>;
}

/** Compact once the journal is this big and larger than twice the last snapshot. */
const MIN_COMPACT_BYTES = 1 << 20;

export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  private claims = new Map<string, Date>();
  private identities = new Map<string, IdentityRecord>();
  private users = new Map<string, UserRecord>();
  private sessions = new Map<string, SessionRecord>();
  private records = new Map<string, StoredRecord>();
  private blobs = new Map<string, BlobRecord>();
  /** rate-limit counters: `<key>\u0000<window>` → instance → count; memory only (one process) */
  private counters = new Map<string, { key: string; window: number; expiresAt: number; byInstance: Map<string, number> }>();
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

  async claim(key: string, expiresAt: Date, now: Date): Promise<void> {
    const existing = this.claims.get(key);
    if (existing && existing.getTime() > now.getTime()) throw new DuplicateKeyError(key);
    this.claims.set(key, expiresAt);
    await this.write('claims', key, expiresAt.toISOString());
  }

  async getIdentity(key: string): Promise<IdentityRecord | null> {
    return clone(this.identities.get(key) ?? null);
  }

  async insertIdentity(identity: IdentityRecord): Promise<void> {
    if (this.identities.has(identity.key)) throw new DuplicateKeyError(identity.key);
    this.identities.set(identity.key, clone(identity));
    await this.write('identities', identity.key, identity);
  }

  async updateIdentity(key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null> {
    const current = this.identities.get(key);
    if (!current) return null;
    const next = { ...current, ...clone(patch), updatedAt: now };
    this.identities.set(key, next);
    await this.write('identities', key, next);
    return clone(next);
  }

  async insertIdentities(list: IdentityRecord[]): Promise<void> {
    for (const identity of list) await this.insertIdentity(identity);
  }

  async setUserSnapshot(user: UserRecord): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [name, map] of [['identities', this.identities], ['sessions', this.sessions]] as const) {
      for (const [key, record] of map as Map<string, IdentityRecord | SessionRecord>) {
        if (record.userId !== user.id) continue;
        // Never over a newer copy: of two racing profile changes the later one stays.
        if (record.user?.id === user.id && record.user.updatedAt.getTime() > user.updatedAt.getTime()) continue;
        const next = { ...record, user: clone(user) };
        (map as Map<string, IdentityRecord | SessionRecord>).set(key, next);
        writes.push(this.write(name, key, next));
      }
    }
    await Promise.all(writes);
  }

  async getUserIdentities(userId: string): Promise<IdentityRecord[]> {
    return [...this.identities.values()].filter((i) => i.userId === userId).map((i) => clone(i));
  }

  async reassignIdentity(key: string, fromUserId: string, toUserId: string, now: Date): Promise<boolean> {
    const current = this.identities.get(key);
    if (!current || current.userId !== fromUserId) return false;
    const next = { ...current, userId: toUserId, updatedAt: now };
    this.identities.set(key, next);
    await this.write('identities', key, next);
    return true;
  }

  async deleteIdentity(key: string): Promise<void> {
    if (this.identities.delete(key)) await this.write('identities', key);
  }

  async deleteUser(id: string): Promise<void> {
    if (this.users.delete(id)) await this.write('users', id);
  }

  async getUsersMergedInto(id: string): Promise<UserRecord[]> {
    return [...this.users.values()].filter((u) => u.mergedInto === id).map((u) => clone(u));
  }

  async reassignSessions(fromUserId: string, toUserId: string): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [id, session] of this.sessions) {
      if (session.userId === fromUserId) {
        const next = { ...session, userId: toUserId };
        this.sessions.set(id, next);
        writes.push(this.write('sessions', id, next));
      }
    }
    await Promise.all(writes);
  }

  async putBlob(blob: BlobRecord): Promise<void> {
    const copy = { ...blob, data: Buffer.from(blob.data) };
    this.blobs.set(blob.id, copy);
    await this.write('blobs', blob.id, serializeBlob(copy));
  }

  async getBlob(id: string): Promise<BlobRecord | null> {
    const blob = this.blobs.get(id);
    return blob ? { ...blob, data: Buffer.from(blob.data), ownerId: blob.ownerId ?? null } : null;
  }

  async deleteBlob(id: string): Promise<void> {
    if (this.blobs.delete(id)) await this.write('blobs', id);
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return clone(this.users.get(id) ?? this.userCopy(id));
  }

  /** A user whose record is not written yet is known by the copy on its identities (types.ts). */
  private userCopy(id: string): UserRecord | null {
    for (const identity of this.identities.values()) if (identity.userId === id && identity.user?.id === id) return identity.user;
    return null;
  }

  async insertUserIfAbsent(user: UserRecord): Promise<UserRecord> {
    const existing = this.users.get(user.id);
    if (existing) return clone(existing);
    this.users.set(user.id, clone(user));
    await this.write('users', user.id, user);
    return clone(user);
  }

  async updateUser(id: string, patch: UserPatch, now: Date): Promise<UserRecord | null> {
    // First change of an account known only by its copy: the record starts from the copy.
    const current = this.users.get(id) ?? this.userCopy(id);
    if (!current) return null;
    const next = clone({ ...current, ...patch, updatedAt: now });
    this.users.set(id, next);
    await this.write('users', id, next);
    return clone(next);
  }

  async insertSession(session: SessionRecord): Promise<void> {
    if (this.sessions.has(session.id)) throw new DuplicateKeyError(session.id);
    this.sessions.set(session.id, clone(session));
    await this.write('sessions', session.id, session);
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    // Expiry is judged by the SessionManager's clock alone (types.ts); expired ones are swept.
    return clone(this.sessions.get(id) ?? null);
  }

  async updateSessionExpiration(id: string, expiresAt: Date): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    const next = { ...session, expiresAt };
    this.sessions.set(id, next);
    await this.write('sessions', id, next);
  }

  async deleteSession(id: string): Promise<void> {
    if (this.sessions.delete(id)) await this.write('sessions', id);
  }

  async deleteUserSessions(userId: string): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [id, session] of this.sessions) {
      if (session.userId === userId && this.sessions.delete(id)) writes.push(this.write('sessions', id));
    }
    await Promise.all(writes);
  }

  async getUserSessions(userId: string): Promise<SessionRecord[]> {
    return [...this.sessions.values()].filter((s) => s.userId === userId).map((s) => clone(s));
  }

  async getRecord(id: string, now: Date = new Date()): Promise<VersionedRecord | null> {
    const record = this.records.get(id);
    if (!record || (record.expiresAt && record.expiresAt.getTime() <= now.getTime())) return null;
    return clone({ value: record.value, version: record.version, ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}) });
  }

  async getRecords(ids: string[], now: Date = new Date()): Promise<Map<string, VersionedRecord>> {
    const found = new Map<string, VersionedRecord>();
    for (const id of new Set(ids)) {
      const record = await this.getRecord(id, now);
      if (record) found.set(id, record);
    }
    return found;
  }

  async compareAndSetRecord(id: string, value: Record<string, unknown>, expectedVersion: number | null, expiresAt?: Date | null): Promise<boolean> {
    const current = this.records.get(id);
    if ((current?.version ?? null) !== expectedVersion) return false;
    const next: StoredRecord = { value: clone(value), version: (current?.version ?? 0) + 1, ...(expiresAt ? { expiresAt: new Date(expiresAt) } : {}) };
    this.records.set(id, next);
    await this.write('records', id, next);
    return true;
  }

  async syncCounters(instance: string, counts: CounterWrite[], now: Date): Promise<CounterTotal[]> {
    for (const c of counts) {
      const id = `${c.key}\u0000${c.window}`;
      let entry = this.counters.get(id);
      if (!entry) this.counters.set(id, (entry = { key: c.key, window: c.window, expiresAt: c.expiresAt.getTime(), byInstance: new Map() }));
      entry.byInstance.set(instance, c.count);
      entry.expiresAt = Math.max(entry.expiresAt, c.expiresAt.getTime());
    }
    const t = now.getTime();
    return counts.map((c) => {
      const entry = this.counters.get(`${c.key}\u0000${c.window}`);
      let total = 0;
      if (entry && entry.expiresAt > t) for (const n of entry.byInstance.values()) total += n;
      return { key: c.key, window: c.window, total };
    });
  }

  async sweepExpired(now: Date): Promise<number> {
    const t = now.getTime();
    const writes: Promise<void>[] = [];
    let removed = 0;
    for (const [k, exp] of this.claims) if (exp.getTime() <= t && this.claims.delete(k)) writes.push(this.write('claims', k));
    for (const [k, s] of this.sessions) if (s.expiresAt.getTime() <= t && this.sessions.delete(k)) writes.push(this.write('sessions', k));
    for (const [k, r] of this.records) if (r.expiresAt && r.expiresAt.getTime() <= t && this.records.delete(k)) writes.push(this.write('records', k));
    removed = writes.length;
    // one counter per instance, as the MongoDB store keeps them
    for (const [k, c] of this.counters) if (c.expiresAt <= t && this.counters.delete(k)) removed += c.byInstance.size;
    await Promise.all(writes);
    return removed;
  }

  async ping(): Promise<void> {}

  async stats(): Promise<StoreStats> {
    return { users: this.users.size, identities: this.identities.size, sessions: this.sessions.size, claims: this.claims.size };
  }

  /** Entries of every kind, temporary ones included (tests and benchmarks watch growth with it). */
  size(): Record<MapName | 'counters', number> {
    return {
      claims: this.claims.size,
      identities: this.identities.size,
      users: this.users.size,
      sessions: this.sessions.size,
      records: this.records.size,
      blobs: this.blobs.size,
      counters: this.counters.size,
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
      claims: Object.fromEntries([...this.claims].map(([k, d]) => [k, d.toISOString()])),
      identities: Object.fromEntries(this.identities),
      users: Object.fromEntries(this.users),
      sessions: Object.fromEntries(this.sessions),
      records: Object.fromEntries(this.records),
      blobs: Object.fromEntries([...this.blobs].map(([k, b]) => [k, serializeBlob(b)])),
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
      this[m].delete(k);
      return;
    }
    const o = v as Record<string, any>;
    switch (m) {
      case 'claims':
        this.claims.set(k, new Date(v as string));
        break;
      case 'identities':
        this.identities.set(k, { ...(o as IdentityRecord), ...reviveCopy(o), createdAt: new Date(o.createdAt), updatedAt: new Date(o.updatedAt) });
        break;
      case 'users':
        this.users.set(k, reviveUser(o));
        break;
      case 'sessions':
        this.sessions.set(k, { ...(o as SessionRecord), ...reviveCopy(o), createdAt: new Date(o.createdAt), expiresAt: new Date(o.expiresAt) });
        break;
      case 'records': {
        // Login records written before they carried expiresAt (they lived 10 minutes) expire now.
        const expiresAt = o.expiresAt ? new Date(o.expiresAt) : LEGACY_TEMPORARY_RECORD.test(k) ? new Date() : null;
        this.records.set(k, { value: o.value, version: o.version, ...(expiresAt ? { expiresAt } : {}) });
        break;
      }
      case 'blobs':
        this.blobs.set(k, { id: o.id, contentType: o.contentType, data: Buffer.from(o.data, 'base64'), ownerId: o.ownerId ?? null, createdAt: new Date(o.createdAt) });
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
