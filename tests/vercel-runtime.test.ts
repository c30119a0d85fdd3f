import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MONGO_MAX_IDLE_MS, MONGO_TIMEOUTS, getMongoClient } from '../packages/server/src/store/mongo.js';

/**
 * Issue 12: the function rests explicitly on the Vercel Node.js runtime (@vercel/node, pinned to
 * the version the pinned CLI builds with) and on @vercel/functions' attachDatabasePool for MongoDB.
 */
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const require = createRequire(import.meta.url);
const versionOf = (name: string) => JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')).version as string;
/** the test MongoDB (tests/setup/global.ts); '' with SKIP_MONGO=1 */
const uri = inject('mongodbUri');

describe('@vercel/node: the runtime the function is built and run with', () => {
  it('is a dependency pinned to exactly the version the pinned vercel CLI builds with', () => {
    const pinned = pkg.dependencies['@vercel/node'];
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(JSON.parse(readFileSync('node_modules/vercel/package.json', 'utf8')).dependencies['@vercel/node']).toBe(pinned);
    expect(versionOf('@vercel/node')).toBe(pinned);
  });

  it("its launcher serves a default export with fetch() — the entry's shape (api/index.ts)", () => {
    const launcher = readFileSync(join(require.resolve('@vercel/node').replace(/index\.js$/, ''), 'dev-server.mjs'), 'utf8');
    expect(launcher).toContain('typeof listener.fetch === "function"');
    const entry = readFileSync('api/index.ts', 'utf8');
    expect(entry).toMatch(/export default \w+ satisfies VercelFetchEntry;/);
  });
});

describe('@vercel/functions: attachDatabasePool on the MongoDB client', () => {
  const saved = { url: process.env.VERCEL_URL, region: process.env.VERCEL_REGION };
  const context = Symbol.for('@vercel/request-context');
  afterAll(() => {
    process.env.VERCEL_URL = saved.url;
    process.env.VERCEL_REGION = saved.region;
    if (saved.url === undefined) delete process.env.VERCEL_URL;
    if (saved.region === undefined) delete process.env.VERCEL_REGION;
    delete (globalThis as Record<symbol, unknown>)[context];
  });

  it('is a real dependency, not an optional import', () => {
    expect(pkg.dependencies['@vercel/functions']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(readFileSync('packages/server/src/store/mongo.ts', 'utf8')).toMatch(/^import \{ attachDatabasePool \} from '@vercel\/functions\/db-connections';$/m);
  });

  it.skipIf(!uri)('on Vercel, a MongoDB operation keeps the instance alive (waitUntil) until idle connections can close', async () => {
    process.env.VERCEL_URL = 'wechat-login.vercel.app';
    process.env.VERCEL_REGION = 'hkg1';
    const waited: Promise<unknown>[] = [];
    (globalThis as Record<symbol, unknown>)[context] = { get: () => ({ waitUntil: (p: Promise<unknown>) => waited.push(p) }) };
    const client = await getMongoClient(`${uri.replace(/\/?$/, '/')}?appName=h6-runtime-${process.pid}`);
    try {
      expect(client.options.maxIdleTimeMS).toBe(MONGO_MAX_IDLE_MS);
      await client.db('h6_runtime').command({ ping: 1 });
      expect(waited.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it("the client's time budget fits the function's maxDuration; the driver's no-op timeoutMS is not used", () => {
    const maxDuration = JSON.parse(readFileSync('vercel.json', 'utf8')).functions['api/index.ts'].maxDuration * 1000;
    expect(MONGO_TIMEOUTS.serverSelectionTimeoutMS + MONGO_TIMEOUTS.socketTimeoutMS).toBeLessThan(maxDuration);
    expect(MONGO_TIMEOUTS.waitQueueTimeoutMS + MONGO_TIMEOUTS.socketTimeoutMS).toBeLessThan(maxDuration);
    expect(MONGO_TIMEOUTS).not.toHaveProperty('timeoutMS');
  });
});
