import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer, parseSealKeys, SealKeyError, UnknownSealKeyError } from '../packages/server/src/crypto/seal.js';

// SESSION_KEY_ENCRYPTION_KEYS = kid:key[,kid:key…]; each key 32 bytes as base64 (44 chars),
// unpadded base64/base64url (43) or hex (64). The first key seals; every listed key opens.
// Expectations here come from the raw bytes the test chose, never from the code under test.
const RAW = Buffer.alloc(32, 0xfb); // base64 "+/v7…": exercises '+' and '/' (and '-' '_' in base64url)
const OTHER = Buffer.alloc(32, 0x11);

/** AES-256-GCM opened by hand: base64url(iv[12] | ciphertext | tag[16]), the context as AAD. */
function openByHand(key: Buffer, data: string, context: string): string {
  const raw = Buffer.from(data, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
}

describe('parseSealKeys', () => {
  it('decodes every accepted spelling to the same 32 bytes', () => {
    const spellings = [
      RAW.toString('hex'),
      RAW.toString('hex').toUpperCase(),
      RAW.toString('base64'), // 44 characters, one '='
      RAW.toString('base64').replace(/=$/, ''), // 43
      RAW.toString('base64url'), // '-' and '_'
    ];
    for (const text of spellings) {
      const keys = parseSealKeys(`k1:${text}`);
      expect([...keys.keys()], text).toEqual(['k1']);
      expect(keys.get('k1')!.equals(RAW), text).toBe(true);
    }
  });

  it('keeps the listed order (the first seals), trims spaces and ignores empty entries', () => {
    const keys = parseSealKeys(` new:  ${OTHER.toString('hex')} ,, old:${RAW.toString('base64')} ,`);
    expect([...keys.keys()]).toEqual(['new', 'old']);
    expect(keys.size).toBe(2);
    expect(keys.get('old')!.equals(RAW)).toBe(true);
    expect(keys.get('new')!.equals(OTHER)).toBe(true);
    expect(createSealer(parseSealKeys(`new:${OTHER.toString('hex')}, old:${RAW.toString('base64')}`)).currentKid).toBe('new');
    expect(createSealer(parseSealKeys(`old:${RAW.toString('base64')},new:${OTHER.toString('hex')}`)).currentKid).toBe('old');
  });

  it('accepts key ids of letters, digits, _ and -, up to 32 characters', () => {
    const id = `A-z_9${'x'.repeat(27)}`; // 32
    expect(parseSealKeys(`${id}:${RAW.toString('hex')}`).has(id)).toBe(true);
  });

  it.each([
    ['nothing', '', /no encryption key given/],
    ['only separators', ' , ,', /no encryption key given/],
    ['no key id', `:${RAW.toString('hex')}`, /kid:key/],
    ['no colon', RAW.toString('hex'), /kid:key/],
    ['a dot in the key id', `k.1:${RAW.toString('hex')}`, /bad key id "k\.1"/],
    ['a 33-character key id', `${'k'.repeat(33)}:${RAW.toString('hex')}`, /bad key id/],
    ['a key id twice', `k1:${RAW.toString('hex')},k1:${OTHER.toString('hex')}`, /listed twice/],
    ['63 hex characters', `k1:${RAW.toString('hex').slice(1)}`, /must be 32 random bytes/],
    ['65 hex characters', `k1:${RAW.toString('hex')}0`, /must be 32 random bytes/],
    ['base64 of 31 bytes', `k1:${randomBytes(31).toString('base64')}`, /must be 32 random bytes/],
    ['base64 of 33 bytes', `k1:${randomBytes(33).toString('base64')}`, /must be 32 random bytes/],
    ['base64 with a character before it', `k1:A${RAW.toString('base64')}`, /must be 32 random bytes/],
    ['base64 with a character after it', `k1:${RAW.toString('base64url')}AA`, /must be 32 random bytes/],
    ['hex with a character after it', `k1:${RAW.toString('hex')}g`, /must be 32 random bytes/],
    ['hex with a character before it', `k1:g${RAW.toString('hex')}`, /must be 32 random bytes/],
    // Node's base64 decoder skips these characters: only the pattern's anchors refuse them
    ['base64 with a dot before it', `k1:.${RAW.toString('base64')}`, /must be 32 random bytes/],
    ['base64 with a dot after it', `k1:${RAW.toString('base64')}.`, /must be 32 random bytes/],
    ['base64 with more base64 after its padding', `k1:${RAW.toString('base64')}AAAA`, /must be 32 random bytes/],
  ])('refuses %s with a SealKeyError that says what is wrong', (_name, spec, message) => {
    let error: unknown;
    try {
      parseSealKeys(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SealKeyError);
    expect((error as Error).message).toMatch(message);
    // the key material is never echoed
    expect((error as Error).message).not.toContain(RAW.toString('hex').slice(0, 16));
  });
});

describe('sealing and key rotation', () => {
  it('seals with the first key in AES-256-GCM, bound to its context', () => {
    const sealer = createSealer(parseSealKeys(`k1:${RAW.toString('base64')},k0:${OTHER.toString('hex')}`));
    const sealed = sealer.seal('session-key-plain', 'oid:wx1:o1');
    expect(sealed.kid).toBe('k1');
    expect(openByHand(RAW, sealed.data, 'oid:wx1:o1')).toBe('session-key-plain');
    expect(() => openByHand(RAW, sealed.data, 'oid:wx1:o2')).toThrow();
    expect(() => sealer.open(sealed, 'oid:wx1:o2')).toThrow();
    // a fresh IV each time: the same plaintext never seals to the same data
    expect(sealer.seal('x', 'c').data).not.toBe(sealer.seal('x', 'c').data);
  });

  it('opens a value sealed under the previous key once the new key is first, and seals new values with the new key', () => {
    const before = createSealer(parseSealKeys(`old:${RAW.toString('hex')}`));
    const sealedBefore = before.seal('secret-1', 'ctx');
    const during = createSealer(parseSealKeys(`new:${OTHER.toString('base64')},old:${RAW.toString('hex')}`));
    expect(during.currentKid).toBe('new');
    expect(during.knows('old')).toBe(true);
    expect(during.open(sealedBefore, 'ctx')).toBe('secret-1');
    const sealedDuring = during.seal('secret-2', 'ctx');
    expect(sealedDuring.kid).toBe('new');
    expect(openByHand(OTHER, sealedDuring.data, 'ctx')).toBe('secret-2');
    // still-old instances during the rollout hold both keys too (old first) and open the new value
    expect(createSealer(parseSealKeys(`old:${RAW.toString('hex')},new:${OTHER.toString('base64')}`)).open(sealedDuring, 'ctx')).toBe('secret-2');
  });

  it('once the old key is removed, its values are refused as an unknown key id (not as bad data)', () => {
    const sealedOld = createSealer(parseSealKeys(`old:${RAW.toString('hex')}`)).seal('secret', 'ctx');
    const after = createSealer(parseSealKeys(`new:${OTHER.toString('hex')}`));
    expect(after.knows('old')).toBe(false);
    let error: unknown;
    try {
      after.open(sealedOld, 'ctx');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnknownSealKeyError);
    expect((error as UnknownSealKeyError).kid).toBe('old');
    // what the logs show: the class and the missing key id (never key material)
    expect((error as Error).name).toBe('UnknownSealKeyError');
    expect((error as Error).message).toBe('unknown key id "old"');
  });

  it('a value relabelled with another key id, or tampered with, does not open', () => {
    const sealer = createSealer(parseSealKeys(`new:${OTHER.toString('hex')},old:${RAW.toString('hex')}`));
    const sealed = sealer.seal('secret', 'ctx');
    expect(() => sealer.open({ ...sealed, kid: 'old' }, 'ctx')).toThrow();
    const bytes = Buffer.from(sealed.data, 'base64url');
    bytes[14]! ^= 1;
    expect(() => sealer.open({ ...sealed, data: bytes.toString('base64url') }, 'ctx')).toThrow();
  });
});
