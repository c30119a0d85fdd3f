// api/_lib/crypto/random.ts: random bytes drawn from a block filled in one CSPRNG call. A draw must
// never repeat or overlap another, never be the wiped zeros, and stay unpredictable-looking. (The wipe of
// handed-out bytes inside the block is memory hygiene that no caller can observe: no test for it.)
import { describe, expect, it } from 'vitest';
import { randomBytesPooled } from '../api/_lib/crypto/random.js';
import { generateId, generateToken } from '../api/_lib/crypto/tokens.js';

describe('randomBytesPooled', () => {
  it('gives the size asked for, fresh buffers the caller owns', () => {
    for (const n of [0, 1, 12, 20, 64, 65, 1000]) expect(randomBytesPooled(n)).toHaveLength(n);
    const a = randomBytesPooled(16);
    const copy = Buffer.from(a);
    a.fill(0); // the caller scribbling on its bytes does not change the next draws
    expect(randomBytesPooled(16).equals(copy)).toBe(false);
    expect(() => randomBytesPooled(-1)).toThrow(RangeError);
    expect(() => randomBytesPooled(1.5)).toThrow(RangeError);
  });

  it('no two draws share bytes, across many refills of the block', () => {
    // 20,000 × 12 bytes ≈ 59 blocks. A repeated or overlapping draw would show up as a duplicate
    // 8-byte window (chance of one by luck: ~1e-10).
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const b = randomBytesPooled(12);
      for (const start of [0, 4]) {
        const window = b.subarray(start, start + 8).toString('hex');
        expect(seen.has(window)).toBe(false);
        seen.add(window);
      }
    }
  });

  it('never hands out the wiped block (zeros) and looks uniform', () => {
    const counts = new Array(256).fill(0);
    let zeroRuns = 0;
    for (let i = 0; i < 8192; i++) {
      const b = randomBytesPooled(20);
      if (b.every((x) => x === 0)) zeroRuns++;
      for (const x of b) counts[x]++;
    }
    expect(zeroRuns).toBe(0);
    // 163,840 bytes: each value expected 640 times; chi-square with 255 degrees of freedom stays
    // far below 400 for a uniform source (p < 1e-7 above it), and far above for zeros or a repeat.
    const expected = (8192 * 20) / 256;
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(400);
  });

  it('tokens and ids drawn from it stay distinct and well formed', () => {
    const tokens = new Set(Array.from({ length: 5000 }, generateToken));
    expect(tokens.size).toBe(5000);
    for (const t of [...tokens].slice(0, 50)) expect(t).toMatch(/^[a-z2-7]{32}$/);
    const ids = new Set(Array.from({ length: 5000 }, generateId));
    expect(ids.size).toBe(5000);
    for (const id of [...ids].slice(0, 50)) expect(id).toMatch(/^[0-9a-f]{24}$/);
  });
});
