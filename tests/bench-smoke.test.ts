import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { json, request, startChild, type ChildServer } from '../bench/lib.js';

/**
 * Smoke test of the benchmark's processes (the bench itself is `npm run bench`, minutes long, and not
 * part of npm test): the simulator, the product API and the seed-003 handler start as their own
 * processes, serve a returning login each, and count their MongoDB commands.
 */
/** the test MongoDB (tests/setup/global.ts); '' with SKIP_MONGO=1, and then this file skips */
const uri = inject('mongodbUri');
const suffix = Date.now().toString(36);
const dbs = { product: `bench_smoke_p_${suffix}`, seed: `bench_smoke_s_${suffix}` };

describe.skipIf(!uri)('bench processes', () => {
  const children: ChildServer[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    const client = new MongoClient(uri!);
    await Promise.all(Object.values(dbs).map((name) => client.db(name).dropDatabase()));
    await client.close();
  });

  it('start, log a user in twice on each side, and report commands per login', { timeout: 60_000 }, async () => {
    const appid = 'wxbe0c000000000b02';
    const secret = '0123456789abcdef0123456789abcdef';
    const sim = await startChild('bench/sim-server.ts', { BENCH_APPID: appid, BENCH_SECRET: secret });
    children.push(sim);
    const wechat = { WECHAT_MINI_APPID: appid, WECHAT_MINI_SECRET: secret, WECHAT_API_BASE: sim.url, WECHAT_API_FAILOVER: '', MONGODB_URI: uri };
    const product = await startChild('bench/product-server.ts', { ...wechat, MONGODB_DB: dbs.product, LOG_LEVEL: 'error' });
    children.push(product);
    const seed = await startChild('bench/seed003-server.ts', { ...wechat, BENCH_SEED_DB: dbs.seed });
    children.push(seed);
    const code = async () => (await json<{ code: string }>(`${sim.url}/__sim/mini/code`, { body: { appid, user: 'smoke' } })).code;

    const first = JSON.parse((await request(`${product.url}/api/auth/mini/login`, { body: { code: await code() } })).body);
    expect(first.isNewUser).toBe(true);
    const before = await json<{ commands: number }>(`${product.url}/__bench/stats`);
    const again = JSON.parse((await request(`${product.url}/api/auth/mini/login`, { body: { code: await code() } })).body);
    expect(again.isNewUser).toBe(false);
    const after = await json<{ commands: number; byName: Record<string, number> }>(`${product.url}/__bench/stats`);
    expect(after.commands - before.commands).toBeGreaterThan(0);

    // The seed handler as written: a first login answers data: null, a returning one the user, in 2 commands.
    const seedFirst = JSON.parse((await request(`${seed.url}/api/wxLogin`, { body: { code: await code(), userName: 'x' } })).body);
    expect(seedFirst).toMatchObject({ code: 1, data: null });
    const s0 = await json<{ commands: number }>(`${seed.url}/__bench/stats`);
    const seedAgain = JSON.parse((await request(`${seed.url}/api/wxLogin`, { body: { code: await code(), userName: 'x' } })).body);
    expect(seedAgain.data.openId).toBeTruthy();
    const s1 = await json<{ commands: number; byName: Record<string, number> }>(`${seed.url}/__bench/stats`);
    expect(s1.commands - s0.commands).toBe(2);
    expect(s1.byName).toMatchObject({ findAndModify: 2, find: 2, insert: 1 });
  });
});
