import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DuplicateKeyError,
  type IdentityPatch,
  type IdentityRecord,
  type SessionRecord,
  type Store,
  type StoreStats,
  type UserPatch,
  type UserRecord,
  type VersionedRecord,
  type BlobRecord,
} from './types.js';

/**
 * The embedded default store: no server needed. Everything lives in memory and, when `dir` is
 * given, every mutation is written to `<dir>/store.json` (write to a temp file, then rename) before
 * the call resolves — a restart of `npm run dev` keeps users and sessions. All operations on the
 * maps are synchronous, so check-and-insert is atomic within the process. One process per data dir.
 */
interface Snapshot {
  claims: Record<string, string>;
  identities: Record<string, IdentityRecord>;
  users: Record<string, UserRecord>;
  sessions: Record<string, SessionRecord>;
  records?: Record<string, VersionedRecord>;
  blobs?: Record<string, { id: string; contentType: string; data: string; ownerId?: string | null; createdAt: string }>;
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  private claims = new Map<string, Date>();
  private identities = new Map<string, IdentityRecord>();
  private users = new Map<string, UserRecord>();
  private sessions = new Map<string, SessionRecord>();
  private records = new Map<string, VersionedRecord>();
  private blobs = new Map<string, BlobRecord>();
  private readonly file: string | null;

  constructor(options: { dir: string | null }) {
    this.file = options.dir ? join(options.dir, 'store.json') : null;
    if (options.dir) mkdirSync(options.dir, { recursive: true });
    if (this.file) this.load(this.file);
  }

  async claim(key: string, expiresAt: Date): Promise<void> {
    const existing = this.claims.get(key);
    if (existing && existing.getTime() > Date.now()) throw new DuplicateKeyError(key);
    this.claims.set(key, expiresAt);
    this.persist();
  }

  async getIdentity(key: string): Promise<IdentityRecord | null> {
    return clone(this.identities.get(key) ?? null);
  }

  async insertIdentity(identity: IdentityRecord): Promise<void> {
    if (this.identities.has(identity.key)) throw new DuplicateKeyError(identity.key);
    this.identities.set(identity.key, clone(identity));
    this.persist();
  }

  async updateIdentity(key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null> {
    const current = this.identities.get(key);
    if (!current) return null;
    const next = { ...current, ...clone(patch), updatedAt: now };
    this.identities.set(key, next);
    this.persist();
    return clone(next);
  }

  async upsertIdentity(record: IdentityRecord, patch: IdentityPatch, now: Date): Promise<{ identity: IdentityRecord; inserted: boolean }> {
    // No await between the lookup and the write: atomic within the process.
    const current = this.identities.get(record.key);
    if (current) return { identity: (await this.updateIdentity(record.key, patch, now))!, inserted: false };
    const inserted = { ...clone(record), ...clone(patch), updatedAt: now };
    this.identities.set(record.key, inserted);
    this.persist();
    return { identity: clone(inserted), inserted: true };
  }

  async insertIdentities(list: IdentityRecord[]): Promise<void> {
    for (const identity of list) await this.insertIdentity(identity);
  }

  async setUserSnapshot(user: UserRecord): Promise<void> {
    let changed = false;
    for (const map of [this.identities, this.sessions] as Map<string, IdentityRecord | SessionRecord>[]) {
      for (const [key, record] of map) {
        if (record.userId !== user.id) continue;
        // Never over a newer copy: of two racing profile changes the later one stays.
        if (record.user?.id === user.id && record.user.updatedAt.getTime() > user.updatedAt.getTime()) continue;
        map.set(key, { ...record, user: clone(user) });
        changed = true;
      }
    }
    if (changed) this.persist();
  }

  async getUserIdentities(userId: string): Promise<IdentityRecord[]> {
    return [...this.identities.values()].filter((i) => i.userId === userId).map((i) => clone(i));
  }

  async reassignIdentity(key: string, fromUserId: string, toUserId: string, now: Date): Promise<boolean> {
    const current = this.identities.get(key);
    if (!current || current.userId !== fromUserId) return false;
    this.identities.set(key, { ...current, userId: toUserId, updatedAt: now });
    this.persist();
    return true;
  }

  async deleteIdentity(key: string): Promise<void> {
    if (this.identities.delete(key)) this.persist();
  }

  async deleteUser(id: string): Promise<void> {
    if (this.users.delete(id)) this.persist();
  }

  async reassignSessions(fromUserId: string, toUserId: string): Promise<void> {
    let changed = false;
    for (const [id, session] of this.sessions) {
      if (session.userId === fromUserId) {
        this.sessions.set(id, { ...session, userId: toUserId });
        changed = true;
      }
    }
    if (changed) this.persist();
  }

  async putBlob(blob: BlobRecord): Promise<void> {
    this.blobs.set(blob.id, { ...blob, data: Buffer.from(blob.data) });
    this.persist();
  }

  async getBlob(id: string): Promise<BlobRecord | null> {
    const blob = this.blobs.get(id);
    return blob ? { ...blob, data: Buffer.from(blob.data), ownerId: blob.ownerId ?? null } : null;
  }

  async deleteBlob(id: string): Promise<void> {
    if (this.blobs.delete(id)) this.persist();
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
    this.persist();
    return clone(user);
  }

  async updateUser(id: string, patch: UserPatch, now: Date): Promise<UserRecord | null> {
    // First change of an account known only by its copy: the record starts from the copy.
    const current = this.users.get(id) ?? this.userCopy(id);
    if (!current) return null;
    const next = clone({ ...current, ...patch, updatedAt: now });
    this.users.set(id, next);
    this.persist();
    return clone(next);
  }

  async insertSession(session: SessionRecord): Promise<void> {
    if (this.sessions.has(session.id)) throw new DuplicateKeyError(session.id);
    this.sessions.set(session.id, clone(session));
    this.persist();
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return clone(this.sessions.get(id) ?? null);
  }

  async updateSessionExpiration(id: string, expiresAt: Date): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.set(id, { ...session, expiresAt });
    this.persist();
  }

  async deleteSession(id: string): Promise<void> {
    if (this.sessions.delete(id)) this.persist();
  }

  async deleteUserSessions(userId: string): Promise<void> {
    let changed = false;
    for (const [id, session] of this.sessions) {
      if (session.userId === userId) changed = this.sessions.delete(id) || changed;
    }
    if (changed) this.persist();
  }

  async getUserSessions(userId: string): Promise<SessionRecord[]> {
    return [...this.sessions.values()].filter((s) => s.userId === userId).map((s) => clone(s));
  }

  async getRecord(id: string): Promise<VersionedRecord | null> {
    return clone(this.records.get(id) ?? null);
  }

  async compareAndSetRecord(id: string, value: Record<string, unknown>, expectedVersion: number | null): Promise<boolean> {
    const current = this.records.get(id);
    if ((current?.version ?? null) !== expectedVersion) return false;
    this.records.set(id, { value: clone(value), version: (current?.version ?? 0) + 1 });
    this.persist();
    return true;
  }

  async stats(): Promise<StoreStats> {
    return { users: this.users.size, identities: this.identities.size, sessions: this.sessions.size, claims: this.claims.size };
  }

  async close(): Promise<void> {}

  private persist(): void {
    if (!this.file) return;
    const now = Date.now();
    // Expired one-time claims are dropped when the file is written. Sessions are not: their expiry is
    // judged by the SessionManager's clock alone (expired ones are deleted when presented).
    for (const [k, exp] of this.claims) if (exp.getTime() <= now) this.claims.delete(k);
    const snapshot: Snapshot = {
      claims: Object.fromEntries([...this.claims].map(([k, d]) => [k, d.toISOString()])),
      identities: Object.fromEntries(this.identities),
      users: Object.fromEntries(this.users),
      sessions: Object.fromEntries(this.sessions),
      records: Object.fromEntries(this.records),
      blobs: Object.fromEntries([...this.blobs].map(([k, b]) => [k, { ...b, data: b.data.toString('base64'), createdAt: b.createdAt.toISOString() }])),
    };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(snapshot));
    renameSync(tmp, this.file);
  }

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const data = JSON.parse(text, reviveDates) as Snapshot;
    for (const [k, v] of Object.entries(data.claims ?? {})) this.claims.set(k, new Date(v));
    for (const [k, v] of Object.entries(data.identities ?? {})) this.identities.set(k, v);
    for (const [k, v] of Object.entries(data.users ?? {})) this.users.set(k, v);
    for (const [k, v] of Object.entries(data.sessions ?? {})) this.sessions.set(k, v);
    for (const [k, v] of Object.entries(data.records ?? {})) this.records.set(k, v);
    for (const [k, v] of Object.entries(data.blobs ?? {})) this.blobs.set(k, { ...v, data: Buffer.from(v.data, 'base64'), createdAt: new Date(v.createdAt) });
  }
}

const DATE_FIELDS = new Set(['createdAt', 'updatedAt', 'expiresAt', 'verifiedAt']);
function reviveDates(key: string, value: unknown): unknown {
  return DATE_FIELDS.has(key) && typeof value === 'string' ? new Date(value) : value;
}

function clone<T>(value: T): T {
  return value === null ? value : structuredClone(value);
}
