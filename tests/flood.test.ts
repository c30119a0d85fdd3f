import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Issue 10 finding 2, the flood: 10,000 anonymous requests (website QR starts, official-account
 * starts, mini logins with junk codes) from one address leave the store's size and another
 * person's login latency where they were. Before the fix 5,000 such requests grew the embedded
 * store from 131 to 971 KiB and login time from 50 to 248 ms.
 */
const FLOOD = Number(process.env.FLOOD_REQUESTS ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'flood-'));
let stack: Stack;
afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const dirBytes = () => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function loginLatency(n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const code = await simCode(stack, `regular-${i % 5}`);
    const started = performance.now();
    const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code }, { 'x-forwarded-for': '198.51.100.20' });
    times.push(performance.now() - started);
    expect(res.status).toBe(200);
  }
  return median(times);
}

describe(`a flood of ${FLOOD} anonymous requests`, () => {
  it('is refused with 429 after the per-address limit, and leaves store size and login latency unchanged', { timeout: 240_000 }, async () => {
    const store = new EmbeddedStore({ dir });
    stack = await startStack({
      env: { RATE_LIMIT_PER_ADDRESS: '120', RATE_LIMIT_PER_APPID: '6000', CLIENT_ADDRESS_HEADER: 'x-forwarded-for' },
      overrides: { store },
    });
    await loginLatency(5); // warm up
    const before = { latency: await loginLatency(15), size: store.size(), bytes: dirBytes() };

    const paths = ['/api/auth/web/qr', '/api/auth/oa/start', '/api/auth/mini/login'];
    const statuses = new Map<number, number>();
    let next = 0;
    const started = performance.now();
    const firstWindow = Math.floor(Date.now() / 60_000);
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < FLOOD) {
          const path = paths[next++ % paths.length]!;
          const res =
            path === '/api/auth/mini/login'
              ? await fetch(`${stack.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.66' }, body: '{"code":"junk-code"}' })
              : await fetch(`${stack.apiUrl}${path}`, { redirect: 'manual', headers: { 'x-forwarded-for': '203.0.113.66' } });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      }),
    );
    const floodMs = performance.now() - started;
    const refused = statuses.get(429) ?? 0;
    // the address's budget: 120 per one-minute window the flood touched
    const windows = Math.floor(Date.now() / 60_000) - firstWindow + 1;
    expect(FLOOD - refused).toBeLessThanOrEqual(120 * windows);

    // two rounds, the better one: the machine is shared, a single round can catch a busy moment
    const after = { latency: Math.min(await loginLatency(15), await loginLatency(15)), size: store.size(), bytes: dirBytes() };
    // what the flood did write is temporary: gone once expired and swept
    await store.sweepExpired(new Date(Date.now() + 11 * 60_000));
    const swept = store.size();
    console.log(
      `[flood] ${FLOOD} requests in ${(floodMs / 1000).toFixed(1)} s: ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `login median ${before.latency.toFixed(1)} → ${after.latency.toFixed(1)} ms; ` +
        `store ${(before.bytes / 1024).toFixed(0)} → ${(after.bytes / 1024).toFixed(0)} KiB on disk; ` +
        `entries before ${JSON.stringify(before.size)}, after ${JSON.stringify(after.size)}, after expiry ${JSON.stringify(swept)}`,
    );
    // before the fix, 5,000 requests multiplied login time by five (50 → 248 ms)
    expect(after.latency).toBeLessThan(before.latency * 2 + 30);
    expect(after.bytes - before.bytes).toBeLessThan(128 * 1024);
    for (const kind of ['users', 'identities', 'blobs'] as const) expect(swept[kind]).toBe(before.size[kind]);
    expect(swept.records).toBe(0);
    expect(swept.claims).toBe(0);
  });
});
