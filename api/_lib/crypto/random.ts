import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random bytes from the operating system's CSPRNG, drawn from a 4 KB block filled in one call.
 *
 * Every `randomBytes(n)` is a separate trip into OpenSSL (~6–9 µs here, whatever n), and a login
 * needs two (the session token, the seal's IV): about 1 % of a returning login's API CPU
 * (docs/BENCH.md, "API CPU per login"). Node's own `randomUUID` keeps a block the same way. Each
 * byte is handed out once (copied out, then wiped in the block), so two draws never share a byte;
 * the block lives only in this process's memory, next to the keys it protects. Large requests
 * bypass the block.
 */
const BLOCK_BYTES = 4096;
const MAX_POOLED = 64;
let block = Buffer.alloc(0);
let offset = 0;

export function randomBytesPooled(size: number): Buffer {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a non-negative integer, got ${size}`);
  if (size > MAX_POOLED) return randomBytes(size);
  if (offset + size > block.length) {
    block = randomFillSync(Buffer.allocUnsafeSlow(BLOCK_BYTES));
    offset = 0;
  }
  const out = Buffer.from(block.subarray(offset, offset + size));
  block.fill(0, offset, offset + size);
  offset += size;
  return out;
}
