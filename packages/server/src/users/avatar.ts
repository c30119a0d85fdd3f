import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Storage, UserRecord } from '../store/types.js';

/** The avatar writes blobs (BlobPort), the profile (accounts + session copies) and its lock record. */
type AvatarStores = Pick<Storage, 'accounts' | 'sessions' | 'blobs' | 'records'>;
import { saveProfile } from './accounts.js';

/** Uploaded avatars: compressed by the client (~200 KB); refused above this. */
export const MAX_AVATAR_BYTES = 1024 * 1024;
const AVATAR_SIZE = 256;
const FORMATS = new Set(['jpeg', 'png', 'gif', 'webp']);

/** Uploaded avatars' path under the default base path; a host's own base path gives `<basePath>/avatars/`. */
export const AVATAR_PATH = '/api/auth/avatars/';
/** The one spelling of an uploaded avatar's URL that we store and accept: `<avatarPath><32 hex>.jpg`. */
const ownAvatarPath = (avatarPath: string) => new RegExp(`^${avatarPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([0-9a-f]{32})\\.jpg$`);
/** A stored avatar path under any base path (a deployment may have moved its base path since it was stored). */
const STORED_AVATAR_PATH = /^(?:\/[A-Za-z0-9._~-]+)*\/avatars\/([0-9a-f]{32})\.jpg$/;

/**
 * Accepts only real images and re-encodes them (which drops EXIF and anything hidden after the
 * image data). Returns the JPEG bytes; storing them is `setUploadedAvatar`'s job.
 */
export async function encodeAvatar(bytes: Buffer): Promise<Buffer> {
  try {
    // Loaded on first upload only: libvips is most of the function bundle and no login needs it.
    const { default: sharp } = await import('sharp');
    const image = sharp(bytes, { limitInputPixels: 4096 * 4096, failOn: 'error' });
    const meta = await image.metadata();
    if (!meta.format || !FORMATS.has(meta.format)) throw new Error('not an allowed image format');
    return await image.rotate().resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover' }).jpeg({ quality: 85, mozjpeg: true }).toBuffer();
  } catch {
    throw new AppError('avatar_invalid');
  }
}

/**
 * The blob id when `url` names an avatar this API serves, spelled exactly as we hand it out: the
 * path `/api/auth/avatars/<id>.jpg`, or that path right after one of `origins` (the request's own
 * origin). No normalisation happens here, so other spellings (percent-encoding, `..`, `\`,
 * `user@host`, another host, a query) are simply not ours — and are then refused by the caller.
 */
export function ownAvatarId(url: string, origins: readonly string[], avatarPath = AVATAR_PATH): string | null {
  let path = url;
  if (!url.startsWith('/')) {
    const origin = origins.find((o) => url.startsWith(`${o}/`));
    if (!origin) return null;
    path = url.slice(origin.length);
  }
  return ownAvatarPath(avatarPath).exec(path)?.[1] ?? null;
}

/** The blob id behind a stored avatarUrl (always stored in the canonical relative form). */
function storedAvatarId(user: UserRecord | null): string | null {
  return user?.avatarUrl ? (STORED_AVATAR_PATH.exec(user.avatarUrl)?.[1] ?? null) : null;
}

/**
 * Whether `userId` may point at / delete this blob: it uploaded it, or the uploader is an account
 * merged into it. Blobs stored before uploaders were recorded belong to nobody (never deleted here).
 */
export async function ownsBlob(store: Pick<Storage, 'accounts' | 'blobs'>, blobId: string, userId: string): Promise<boolean> {
  const blob = await store.blobs.get(blobId);
  if (!blob?.ownerId) return false;
  if (blob.ownerId === userId) return true;
  return (await store.accounts.getUser(blob.ownerId))?.mergedInto === userId;
}

/** Deletes the user's current uploaded avatar if it is theirs; another user's image is never touched. */
export async function deleteOwnedAvatar(store: Pick<Storage, 'accounts' | 'blobs'>, user: UserRecord | null): Promise<void> {
  const id = storedAvatarId(user);
  if (id && user && (await ownsBlob(store, id, user.id))) await store.blobs.delete(id);
}

const LOCK_MS = 10_000;
const LOCK_WAIT_MS = 8_000;

/**
 * Avatar changes of one user run one at a time (a lock record shared by every instance), so the
 * change that replaces an uploaded image is the one that deletes it: 20 parallel uploads leave
 * exactly one image, never a dangling reference.
 */
async function withAvatarLock<T>(store: Pick<Storage, 'records'>, userId: string, run: () => Promise<T>): Promise<T> {
  const id = `avatar_lock:${userId}`;
  const owner = randomBytes(8).toString('hex');
  const deadline = Date.now() + LOCK_WAIT_MS;
  let version: number;
  let waited = 0;
  for (;;) {
    // a permanent record (no expiry column): the lease is the value's `until`, on this process's clock
    const rec = (await store.records.get([id], new Date())).get(id);
    const held = rec && typeof rec.value.until === 'number' && rec.value.until > Date.now();
    if (!held) {
      const until = Date.now() + LOCK_MS;
      // a permanent record (one per user who ever changed an avatar): a stale lock is free once `until` has passed
      const written = await store.records.put(id, { owner, until }, rec?.version ?? null, null, new Date());
      if (written !== null) {
        version = written;
        break;
      }
      continue;
    }
    if (Date.now() > deadline) throw new AppError('too_many_requests', '头像正在更新，请稍后再试');
    // Jittered back-off: waiters must not crowd the store the holder is writing to.
    waited++;
    await new Promise((r) => setTimeout(r, Math.min(200, 15 * waited) + Math.floor(Math.random() * 30)));
  }
  try {
    return await run();
  } finally {
    await store.records.put(id, { owner: null, until: 0 }, version, null, new Date()).catch(() => null);
  }
}

/**
 * Sets the user's avatar and deletes the uploaded image it replaces (when that image is theirs).
 * `next` is a canonical own path or a WeChat avatar URL — the caller has checked it.
 */
async function replaceAvatar(store: AvatarStores, userId: string, patch: { avatarUrl: string; nickname?: string }, now: Date): Promise<UserRecord> {
  return withAvatarLock(store, userId, async () => {
    // Timed inside the lock: the change that holds it last is the newest, and the profile copies
    // (which never go back to an older updatedAt) must agree with the record.
    now = new Date(Math.max(now.getTime(), Date.now()));
    const before = await store.accounts.getUser(userId);
    if (!before) throw new AppError('unauthorized');
    const user = await saveProfile(store, before, patch, now);
    if (!user) throw new AppError('unauthorized');
    if (before.avatarUrl !== patch.avatarUrl) await deleteOwnedAvatar(store, before);
    return user;
  });
}

/** Stores an uploaded (already encoded) image as the user's avatar, owned by them. */
export async function setUploadedAvatar(store: AvatarStores, userId: string, jpeg: Buffer, now: Date, avatarPath = AVATAR_PATH): Promise<{ avatarUrl: string; user: UserRecord }> {
  const blobId = randomBytes(16).toString('hex');
  const avatarUrl = `${avatarPath}${blobId}.jpg`;
  await store.blobs.put({ id: blobId, contentType: 'image/jpeg', data: jpeg, ownerId: userId, createdAt: now });
  try {
    return { avatarUrl, user: await replaceAvatar(store, userId, { avatarUrl }, now) };
  } catch (error) {
    // Not set as the avatar (lock wait ran out, store trouble): the image must not stay behind.
    await store.blobs.delete(blobId).catch(() => {});
    throw error;
  }
}

/**
 * The avatar a user asked for in PATCH /api/auth/me, as it will be stored: their own uploaded image
 * (canonical path) or a WeChat avatar URL. Anything else — someone else's upload, however spelled —
 * is `avatar_not_allowed`.
 */
export async function chooseAvatar(store: Pick<Storage, 'accounts' | 'blobs'>, user: UserRecord, url: string, origins: readonly string[], isWechatAvatar: (url: string) => boolean, avatarPath = AVATAR_PATH): Promise<string> {
  const ownId = ownAvatarId(url, origins, avatarPath);
  if (ownId !== null) {
    const canonical = `${avatarPath}${ownId}.jpg`;
    // Keeping the current avatar is always fine (also a legacy image without a recorded owner).
    if (canonical === user.avatarUrl || (await ownsBlob(store, ownId, user.id))) return canonical;
    throw new AppError('avatar_not_allowed');
  }
  if (isWechatAvatar(url)) return url;
  throw new AppError('avatar_not_allowed');
}

/** PATCH /api/auth/me with an avatar: replaces (and cleans up) like an upload does. */
export function updateProfileWithAvatar(store: AvatarStores, userId: string, patch: { avatarUrl: string; nickname?: string }, now: Date): Promise<UserRecord> {
  return replaceAvatar(store, userId, patch, now);
}
