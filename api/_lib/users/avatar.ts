import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Store } from '../store/types.js';

/** Uploaded avatars: compressed by the client (~200 KB); refused above this. */
export const MAX_AVATAR_BYTES = 1024 * 1024;
const AVATAR_SIZE = 256;
const FORMATS = new Set(['jpeg', 'png', 'gif', 'webp']);

export const AVATAR_PATH = '/api/avatars/';

/**
 * Accepts only real images, re-encodes them (which drops EXIF and anything hidden after the image
 * data), and stores them behind the store's blob interface so every instance can serve them.
 */
export async function storeAvatar(store: Store, bytes: Buffer, now: Date): Promise<string> {
  let output: Buffer;
  try {
    // Loaded on first upload only: libvips is most of the function bundle and no login needs it.
    const { default: sharp } = await import('sharp');
    const image = sharp(bytes, { limitInputPixels: 4096 * 4096, failOn: 'error' });
    const meta = await image.metadata();
    if (!meta.format || !FORMATS.has(meta.format)) throw new Error('not an allowed image format');
    output = await image.rotate().resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover' }).jpeg({ quality: 85, mozjpeg: true }).toBuffer();
  } catch {
    throw new AppError('avatar_invalid');
  }
  const id = randomBytes(16).toString('hex');
  await store.putBlob({ id, contentType: 'image/jpeg', data: output, createdAt: now });
  return `${AVATAR_PATH}${id}.jpg`;
}

/** The blob id when `url` is an avatar this API serves (absolute on our origin, or a path). */
export function ownAvatarId(url: string, requestOrigin: string): string | null {
  try {
    const parsed = new URL(url, requestOrigin);
    if (parsed.origin !== new URL(requestOrigin).origin) return null;
    const match = /^\/api\/avatars\/([0-9a-f]{32})\.jpg$/.exec(parsed.pathname);
    return match ? match[1]! : null;
  } catch {
    return null;
  }
}
