import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptedValue } from '../store/types.js';

/**
 * Authenticated encryption at rest (AES-256-GCM) for secrets we must keep, such as WeChat's
 * session_key and the shared access_token. Keys come from the environment as
 * `kid:key[,kid:key…]`, each key 32 random bytes written in base64 (44 characters, e.g.
 * `openssl rand -base64 32`) or hex (64 characters, `openssl rand -hex 32`). The first key seals,
 * every listed key can open. Rotation (docs/DEPLOY.md): add the new key second, deploy, move it
 * first, let values be re-sealed, then remove the old one.
 */
export interface Sealer {
  /** the key id new values are sealed with */
  readonly currentKid: string;
  /** whether this instance holds the key `kid` (a value sealed with any other cannot be opened) */
  knows(kid: string): boolean;
  seal(plaintext: string, context: string): EncryptedValue;
  /** Throws UnknownSealKeyError for a key id this instance does not have. */
  open(value: EncryptedValue, context: string): string;
}

export class SealKeyError extends Error {}

/** A value was sealed with a key this instance does not hold: a configuration problem, not bad data. */
export class UnknownSealKeyError extends SealKeyError {
  constructor(readonly kid: string) {
    super(`unknown key id "${kid}"`);
    this.name = 'UnknownSealKeyError';
  }
}

/** Parses SESSION_KEY_ENCRYPTION_KEYS exactly as the server does at cold start (doctor uses it too). */
export function parseSealKeys(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = part.indexOf(':');
    if (at <= 0) throw new SealKeyError('each key must look like kid:key (key = 32 bytes in base64 or hex)');
    const kid = part.slice(0, at);
    const text = part.slice(at + 1).trim();
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid)) throw new SealKeyError(`bad key id "${kid}" (letters, digits, _ or -, at most 32)`);
    if (keys.has(kid)) throw new SealKeyError(`key id "${kid}" is listed twice`);
    keys.set(kid, decodeKey(kid, text));
  }
  if (keys.size === 0) throw new SealKeyError('no encryption key given');
  return keys;
}

/** 64 hex characters (openssl rand -hex 32) or base64/base64url of 32 bytes; anything else is refused. */
function decodeKey(kid: string, text: string): Buffer {
  // A 64-character hex string is never the base64 of 32 bytes (that has 43–44 characters).
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === 32) return key;
  }
  throw new SealKeyError(`key "${kid}" must be 32 random bytes written as base64 (44 characters, openssl rand -base64 32) or hex (64 characters, openssl rand -hex 32)`);
}

export function createSealer(keys: Map<string, Buffer>): Sealer {
  const [currentKid, currentKey] = keys.entries().next().value as [string, Buffer];
  return {
    currentKid,
    knows: (kid) => keys.has(kid),
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      // The context (e.g. the identity key) is bound as associated data: a sealed value copied
      // onto another record does not open.
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { kid: currentKid, data: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url') };
    },
    open(value, context) {
      const key = keys.get(value.kid);
      if (!key) throw new UnknownSealKeyError(value.kid);
      const raw = Buffer.from(value.data, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    },
  };
}
