import { describe, expect, it } from 'vitest';
import { generateToken } from '../packages/server/src/crypto/tokens.js';

// The bearer token is 160 random bits in lower-case base32 (RFC 4648 alphabet a–z, 2–7):
// 160 / 5 = 32 characters, no padding. These tests judge the output only, so a token that
// keeps its shape but loses entropy (a fixed prefix, a narrowed alphabet, a shorter source)
// is caught.
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const N = 1000;

describe('bearer token encoder', () => {
  const tokens = Array.from({ length: N }, () => generateToken());

  it('is 32 characters of the base32 alphabet, and 1,000 tokens are all distinct', () => {
    for (const token of tokens) expect(token).toMatch(/^[a-z2-7]{32}$/);
    expect(new Set(tokens).size).toBe(N);
  });

  it('spreads characters uniformly over the whole alphabet (chi-square, 31 degrees of freedom)', () => {
    const counts = new Map<string, number>([...ALPHABET].map((c) => [c, 0]));
    for (const token of tokens) for (const c of token) counts.set(c, counts.get(c)! + 1);
    const expected = (N * 32) / 32;
    let chi2 = 0;
    for (const c of ALPHABET) chi2 += (counts.get(c)! - expected) ** 2 / expected;
    // P(chi2 > 90 | uniform, df = 31) < 1e-7; one fixed character (1,000 extra of one letter) gives ~ 900.
    expect(chi2).toBeLessThan(90);
    for (const c of ALPHABET) expect(counts.get(c)!).toBeGreaterThan(0);
  });

  it('has no fixed position: every one of the 32 positions takes many different characters', () => {
    for (let position = 0; position < 32; position++) {
      const seen = new Set(tokens.map((t) => t[position]));
      // Uniform over 32 symbols with 1,000 draws: all 32 appear with overwhelming probability.
      expect(seen.size, `position ${position}`).toBeGreaterThanOrEqual(28);
    }
  });
});
