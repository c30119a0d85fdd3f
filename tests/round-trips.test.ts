import { randomUUID } from 'node:crypto';
import { metered } from './support/records.js';
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { migrateMongo, MongoStore } from '../packages/server/src/store/mongo.js';
import type { Storage } from '../packages/server/src/store/types.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Issue 11: store round trips per request, counted where they happen.
 *   MongoDB (FerretDB in CI): on the wire, with the driver's command monitoring — every
 *   `commandStarted` except the connection's own handshake/hello/ping/auth commands.
 *   Embedded store: every call into the Store interface, on the same logic paths.
 * Goals: returning mini login ≤ 2, first login ≤ 3 (with or without a unionid), GET /api/auth/me ≤ 1.
 */
const uri = inject('mongodbUri');
const dbName = `round_trips_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
const NOT_OPERATIONS = new Set(['hello', 'ismaster', 'ping', 'saslstart', 'saslcontinue', 'buildinfo', 'endsessions', 'getnonce', 'authenticate']);

interface Meter {
  /** what ran since the last reset: `<command> <collection>` or `<store method>` */
  calls: string[];
  /** the rate limiter's counter sync: background, at most once a second per instance, on no request's path */
  background: string[];
  store: Storage;
  close(): Promise<void>;
}

async function mongoMeter(): Promise<Meter> {
  const client = new MongoClient(uri, { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
  await migrateMongo(client.db(dbName));
  const calls: string[] = [];
  const background: string[] = [];
  client.on('commandStarted', (event: CommandStartedEvent) => {
    if (NOT_OPERATIONS.has(event.commandName.toLowerCase())) return;
    const op = `${event.commandName} ${String(event.command[event.commandName])}`;
    (op.endsWith(' rate_counters') ? background : calls).push(op);
  });
  const store = new MongoStore(Promise.resolve(client), dbName, true);
  return { calls, background, store, close: () => store.close() };
}

async function embeddedMeter(): Promise<Meter> {
  const calls: string[] = [];
  const background: string[] = [];
  const inner = new EmbeddedStore({ dir: null });
  const store = metered(inner, (call) => void (call === 'counters.sync' ? background : calls).push(call));
  return { calls, background, store, close: async () => {} };
}

/** Runs `fn` and returns the store operations it caused. */
async function measure(meter: Meter, fn: () => Promise<void>): Promise<string[]> {
  meter.calls.length = 0;
  await fn();
  return [...meter.calls];
}

const stores: [string, () => Promise<Meter>, boolean][] = [
  ['MongoDB (on the wire)', mongoMeter, !uri],
  ['embedded (store calls)', embeddedMeter, false],
];

afterAll(async () => {
  if (!uri) return;
  const admin = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await admin.db(dbName).dropDatabase().catch(() => {});
  await admin.close();
});

for (const [name, makeMeter, skip] of stores) {
  const mongo = name.startsWith('MongoDB');
  const expected = {
    // A returning login READS its identity (no findAndModify: nothing on it changes, the session_key
    // rides on the new session) and writes one session (group-committed with concurrent ones).
    first: mongo ? ['find identities', 'insert identities', 'insert sessions'] : ['accounts.getIdentity', 'accounts.insertIdentities', 'sessions.insert'],
    firstNoUnionid: mongo ? ['find identities', 'insert identities', 'insert sessions'] : ['accounts.getIdentity', 'accounts.insertIdentity', 'sessions.insert'],
    returning: mongo ? ['find identities', 'insert sessions'] : ['accounts.getIdentity', 'sessions.insert'],
    returningNoUnionid: mongo ? ['find identities', 'insert sessions'] : ['accounts.getIdentity', 'sessions.insert'],
    me: mongo ? ['find sessions'] : ['sessions.get'],
  };

  describe.skipIf(skip)(`round trips: ${name}`, () => {
    for (const unionid of [true, false]) {
      it(`mini login ${unionid ? 'with' : 'without'} a unionid: first ≤ 3, returning ≤ 2, GET /api/auth/me ≤ 1`, async () => {
        const meter = await makeMeter();
        const stack: Stack = await startStack({ ...(unionid ? {} : { openPlatformId: null }), overrides: { store: meter.store } });
        const started = Date.now();
        try {
          const person = `counted-${unionid ? 'u' : 'n'}`;
          const login = async (isNewUser: boolean) => {
            const code = await simCode(stack, person); // the code comes from the simulator, not the store
            return measure(meter, async () => {
              const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code });
              expect(res.status).toBe(200);
              expect(res.body.isNewUser).toBe(isNewUser);
              token = res.body.token;
            });
          };
          let token = '';
          const first = await login(true);
          expect(first).toEqual(unionid ? expected.first : expected.firstNoUnionid);
          expect(first.length).toBeLessThanOrEqual(3);
          const returning = await login(false);
          expect(returning).toEqual(unionid ? expected.returning : expected.returningNoUnionid);
          expect(returning.length).toBeLessThanOrEqual(2);
          const me = await measure(meter, async () => {
            const res = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
            expect(res.status).toBe(200);
            expect((await res.json()).user.id).toBeTruthy();
          });
          expect(me).toEqual(expected.me);
          // Rate limits are on (tests/limits.test.ts): their counters reach the store in a background
          // sync — one delete + one insert + one read, at most once a second per instance, whatever the traffic.
          const syncs = meter.background.filter((op) => op === 'syncCounters' || op.startsWith('delete ')).length;
          expect(syncs).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1000) + 1);
        } finally {
          await stack.close();
          await meter.close();
        }
      });
    }

    it('GET /api/auth/me writes the expiry only in the second half of the session\'s life', async () => {
      const meter = await makeMeter();
      let now = Date.now();
      const stack = await startStack({ overrides: { store: meter.store, clock: () => new Date(now) } });
      try {
        const { body } = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'sliding') });
        const me = () => measure(meter, async () => {
          expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${body.token}` } })).status).toBe(200);
        });
        now += 14 * 24 * 3600_000; // day 14 of 30: first half
        expect(await me()).toEqual(expected.me);
        now += 2 * 24 * 3600_000; // day 16: second half → slides once
        expect(await me()).toEqual([...expected.me, mongo ? 'update sessions' : 'sessions.updateExpiration']);
        expect(await me()).toEqual(expected.me); // slid: first half again
      } finally {
        await stack.close();
        await meter.close();
      }
    });

    it('a profile change is seen by GET /api/auth/me, still in one round trip', async () => {
      const meter = await makeMeter();
      const stack = await startStack({ overrides: { store: meter.store } });
      try {
        const { body } = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'renamed') });
        const auth = { authorization: `Bearer ${body.token}` };
        const avatarUrl = 'https://thirdwx.qlogo.cn/mmopen/vi_32/renamed/132';
        const patched = await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ avatarUrl }) });
        expect(patched.status).toBe(200);
        let seen: unknown;
        const me = await measure(meter, async () => {
          seen = (await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: auth })).json()).user.avatarUrl;
        });
        expect(seen).toBe(avatarUrl);
        expect(me).toEqual(expected.me);
        // …and by the next login, without a user read.
        const again = await measure(meter, async () => {
          const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'renamed') });
          expect(res.body.user.avatarUrl).toBe(avatarUrl);
        });
        expect(again).toEqual(expected.returning);
      } finally {
        await stack.close();
        await meter.close();
      }
    });
  });
}
