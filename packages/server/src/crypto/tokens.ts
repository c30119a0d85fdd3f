import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 160 random bits, base32 (lower case): the bearer token handed to the client. */
export function generateToken(): string {
  const bytes = randomBytes(20);
  let bits = 0, value = 0, out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Random opaque ids for users. */
export function generateId(): string {
  return randomBytes(12).toString('hex');
}

/** Whether sha256Hex(value) is `hash`, compared in constant time (a missing or malformed hash: false). */
export function matchesSha256(value: string, hash: string | undefined): boolean {
  if (!hash) return false;
  const expected = Buffer.from(sha256Hex(value));
  const given = Buffer.from(hash);
  return given.length === expected.length && timingSafeEqual(expected, given);
}
