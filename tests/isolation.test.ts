// Issue 20, migration step 3 (docs/design/issue-20-drop-in.md §3 "Isolation test", G2): two API
// instances built in ONE process with different options must not see each other's state — a host
// may mount two (two tenants, or staging next to production), and a package must not hide globals.
// Each instance here has its own WeChat simulator, store, secrets and seal key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

const PC_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const RATE_LIMIT = 5;

const me = (stack: Stack, token: string) => fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });

async function login(stack: Stack, user: string): Promise<string> {
  const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });
  expect(res.status).toBe(200);
  return res.body.token as string;
}

describe('two instances with different AppIDs, secrets and stores in one process', () => {
  let a: Stack;
  let b: Stack;
  beforeAll(async () => {
    const env = (appid: string) => ({ WECHAT_MINI_APPID: appid, RATE_LIMIT_PER_ADDRESS: String(RATE_LIMIT), RATE_LIMIT_PER_APPID: '1000000' });
    a = await startStack({ env: env('wx00000000000a0001'), overrides: { notifyIntervalMs: 100 } });
    b = await startStack({ env: env('wx00000000000b0001'), overrides: { notifyIntervalMs: 100 } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it("sessions: a token from one instance is refused by the other, both ways", async () => {
    const tokenA = await login(a, 'iso-alice');
    const tokenB = await login(b, 'iso-bob');
    expect((await me(a, tokenA)).status).toBe(200);
    expect((await me(b, tokenB)).status).toBe(200);
    const crossed = await me(b, tokenA);
    expect(crossed.status).toBe(401);
    expect(((await crossed.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await me(a, tokenB)).status).toBe(401);
  });

  it("seal keys: a value sealed by one instance does not open on the other", () => {
    const sealed = a.services.sealer.seal('session-key-of-a', 'oid:ctx');
    expect(a.services.sealer.open(sealed, 'oid:ctx')).toBe('session-key-of-a');
    expect(() => b.services.sealer.open(sealed, 'oid:ctx')).toThrow();
  });

  it('access tokens: each instance fetches its own from its own WeChat, and neither is valid on the other', async () => {
    const tokenA = await a.services.accessTokens.get();
    const tokenB = await b.services.accessTokens.get();
    expect(tokenA).not.toBe(tokenB);
    expect(a.sim.tokens.check(tokenA, a.appid)).toBe(0);
    expect(b.sim.tokens.check(tokenB, b.appid)).toBe(0);
    expect(b.sim.tokens.check(tokenA)).toBe(40001);
    expect(a.sim.tokens.stableFetches.get(a.appid)?.normal).toBe(1);
    expect(b.sim.tokens.stableFetches.get(b.appid)?.normal).toBe(1);
  });

  it("PC login attempts: an attempt made on one instance is unknown to the other", async () => {
    const res = await fetch(`${a.apiUrl}/api/auth/pc/attempt`, { method: 'POST', headers: { 'user-agent': PC_UA } });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().map((l) => l.split(';')[0]).join('; ');
    expect(cookie).toMatch(/^wx_pc_attempt=/);
    expect((await fetch(`${a.apiUrl}/api/auth/pc/status`, { headers: { cookie, 'user-agent': PC_UA } })).status).toBe(200);
    const crossed = await fetch(`${b.apiUrl}/api/auth/pc/status`, { headers: { cookie, 'user-agent': PC_UA } });
    expect(crossed.status).not.toBe(200);
    expect(((await crossed.json()) as { error: { code: string } }).error.code).toMatch(/^pc_login_/);
  });

  it("the notifier: a change announced on one instance wakes only that instance's waiters", async () => {
    // a real attempt on B, watched by a PC on B at its current version
    const res = await fetch(`${b.apiUrl}/api/auth/pc/attempt`, { method: 'POST', headers: { 'user-agent': PC_UA } });
    const { version } = (await res.json()) as { version: number };
    const id = /wx_pc_attempt=([^.;]+)\./.exec(res.headers.getSetCookie().join('; '))![1]!;
    const onB = b.services.notifier.wait(id, version, 600);
    const onA = a.services.notifier.wait(id, version, 3000);
    // A announces a change of an attempt with that id (as a process-wide event bus would carry it)
    const view = { id, status: 'scanned', version: version + 1, expiresAt: new Date(Date.now() + 60_000), device: { browser: null, os: null }, createdAt: new Date(), match: '42' };
    a.services.notifier.changed(view as never);
    expect(await onA).toMatchObject({ id, status: 'scanned', version: version + 1 });
    expect(await onB).toBe('timeout'); // B's attempt did not change; nothing of A's reached B's waiters
  });

  it('rate limits: exhausting the per-address limit on one instance leaves the other untouched', async () => {
    const bad = (stack: Stack) => postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: '' });
    let refused = 0;
    for (let i = 0; i < RATE_LIMIT + 1 && !refused; i++) if ((await bad(a)).status === 429) refused = i + 1;
    expect(refused).toBeGreaterThan(0); // A is at its limit now
    expect((await bad(a)).status).toBe(429);
    const onB = await bad(b);
    expect(onB.status).toBe(400); // validated, not refused: B counted only its own requests
    expect(onB.body.error.code).not.toBe('too_many_requests');
  });
});

describe('two deployments of ONE mini-program (same AppID; own simulator, secret and store) in one process', () => {
  let a: Stack;
  let b: Stack;
  const release: (() => void)[] = [];
  beforeAll(async () => {
    const env = { WECHAT_MINI_APPID: 'wx00000000000c0001' };
    // A's jscode2session waits until the test lets it go: a code is "in flight" on A meanwhile
    const held: typeof fetch = async (input, init) => {
      if (String(input instanceof Request ? input.url : input).includes('/sns/jscode2session')) await new Promise<void>((r) => release.push(r));
      return fetch(input, init);
    };
    a = await startStack({ env, overrides: { fetch: held } });
    b = await startStack({ env });
  });
  afterAll(async () => {
    for (const r of release) r();
    await a?.close();
    await b?.close();
  });

  it("in-flight codes: a code being exchanged on one instance does not make the other answer 409", async () => {
    const code = await simCode(b, 'iso-carol'); // issued by B's WeChat
    const onA = postJson(`${a.apiUrl}/api/auth/mini/login`, { code }); // held inside A's exchange
    for (let i = 0; i < 100 && !release.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(release.length).toBe(1);
    const onB = await postJson(`${b.apiUrl}/api/auth/mini/login`, { code });
    expect(onB.body.error?.code).toBeUndefined();
    expect(onB.status).toBe(200); // B exchanged it with its own WeChat
    release.shift()!();
    expect((await onA).status).not.toBe(200); // A's WeChat never issued that code
  });

  it("access tokens: the second deployment does not reuse the first one's token for the same AppID", async () => {
    const tokenA = await a.services.accessTokens.get();
    const tokenB = await b.services.accessTokens.get();
    expect(a.sim.tokens.check(tokenA, a.appid)).toBe(0);
    expect(b.sim.tokens.check(tokenB, b.appid)).toBe(0);
    expect(tokenB).not.toBe(tokenA);
  });
});
