// The simulator's latency knob (issue 21): production-like distance to WeChat for benchmarks.
// Every WeChat answer waits `latencyMs`; the /__sim control endpoints never do; off by default.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSimulator } from '../packages/sim/src/app.js';
import { startSimulator, type RunningSimulator } from '../packages/sim/src/server.js';
import { ensureSimBuilt } from '../scripts/lib/sim-bin.js';

const MINI = { appid: 'wx0123456789abc021', secret: 'lat5ecret' };
const DELAY = 400;
/** the largest latency the simulator accepts: a delayed answer would come long after the test's timeout */
const LONG = 60_000;

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await run();
  return { ms: performance.now() - t0, value };
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A code from the simulator's control endpoint (never delayed). */
async function simCodeFrom(url: string): Promise<string> {
  const res = await post(`${url}/__sim/mini/code`, { appid: MINI.appid, user: 'lat-alice' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { code: string }).code;
}

/** A code from the simulator's control endpoint, then the server's jscode2session with it: the time of each. */
async function loginTimes(url: string) {
  const code = await timed(async () => ((await (await post(`${url}/__sim/mini/code`, { appid: MINI.appid, user: 'lat-alice' })).json()) as { code: string }).code);
  const exchange = await timed(async () => (await (await fetch(`${url}/sns/jscode2session?appid=${MINI.appid}&secret=${MINI.secret}&js_code=${code.value}&grant_type=authorization_code`)).json()) as { openid?: string });
  return { controlMs: code.ms, apiMs: exchange.ms, openid: exchange.value.openid };
}

describe('simulator latency (startSimulator latencyMs)', () => {
  const sims: RunningSimulator[] = [];
  afterAll(() => Promise.all(sims.map((s) => s.close())));

  it('delays every WeChat API answer by latencyMs, never the /__sim control endpoints', async () => {
    const sim = await startSimulator({ port: 0, apps: [{ ...MINI, openPlatformId: null }], latencyMs: DELAY });
    sims.push(sim);
    await loginTimes(sim.url); // warm sockets and JIT
    const t = await loginTimes(sim.url);
    expect(t.openid).toMatch(/^o/); // still a real answer
    expect(t.apiMs).toBeGreaterThanOrEqual(DELAY - 5);
    // an error answer is delayed too (it is WeChat's answer), and so is a page under open.weixin.qq.com
    const bad = await timed(() => fetch(`${sim.url}/sns/jscode2session?appid=${MINI.appid}&secret=wrong&js_code=x&grant_type=authorization_code`).then((r) => r.json()));
    expect((bad.value as { errcode: number }).errcode).toBe(40125);
    expect(bad.ms).toBeGreaterThanOrEqual(DELAY - 5);
    // /__sim is not delayed: with the largest latency a control call still answers (delayed, it would outlast the test's timeout)
    const slow = await startSimulator({ port: 0, apps: [{ ...MINI, openPlatformId: null }], latencyMs: LONG });
    sims.push(slow);
    expect(await simCodeFrom(slow.url)).toBeTruthy();
  });

  describe('in order of events (fake timers)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    const exchange = (code: string, secret = MINI.secret) => `http://sim/sns/jscode2session?appid=${MINI.appid}&secret=${secret}&js_code=${code}&grant_type=authorization_code`;
    const codeRequest = () => new Request('http://sim/__sim/mini/code', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid: MINI.appid, user: 'lat-bob' }) });

    it('a WeChat answer waits exactly latencyMs; a /__sim call made meanwhile answers at once', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { app } = createSimulator({ apps: [{ ...MINI, openPlatformId: null }], latencyMs: LONG });
      const first = vi.getTimerCount();
      let answered = false;
      const pending = Promise.resolve(app.request(exchange('not-yet'))).then((r) => ((answered = true), r));
      expect(vi.getTimerCount()).toBe(first + 1); // the WeChat answer waits on the latency timer
      const code = await app.request(codeRequest()); // answers with that timer still pending
      expect(code.status).toBe(200);
      expect(((await code.json()) as { code: string }).code).toBeTruthy();
      expect(answered).toBe(false);
      await vi.advanceTimersByTimeAsync(LONG - 1);
      expect(answered).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(answered).toBe(true);
      expect(((await (await pending).json()) as { errcode: number }).errcode).toBeGreaterThan(0); // an unknown code: WeChat's error, delayed too
    });

    it('is off by default: a WeChat answer waits on no timer', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { app } = createSimulator({ apps: [{ ...MINI, openPlatformId: null }] });
      const first = vi.getTimerCount();
      const code = ((await (await app.request(codeRequest())).json()) as { code: string }).code;
      const answer = app.request(exchange(code));
      expect(vi.getTimerCount()).toBe(first);
      expect((await answer).status).toBe(200);
      expect(((await (await answer).json()) as { openid?: string }).openid).toMatch(/^o/);
    });
  });

  it('refuses a latency that is not a whole number of milliseconds', async () => {
    await expect(async () => startSimulator({ port: 0, apps: [{ ...MINI, openPlatformId: null }], latencyMs: -1 })).rejects.toThrow(/latencyMs/);
    await expect(async () => startSimulator({ port: 0, apps: [{ ...MINI, openPlatformId: null }], latencyMs: 1.5 })).rejects.toThrow(/latencyMs/);
  });
});

describe('npx wlu-wxlogin-sim --latency-ms / WECHAT_SIM_LATENCY_MS', () => {
  let bin: string;
  const children: ChildProcess[] = [];
  beforeAll(() => {
    bin = ensureSimBuilt();
  }, 120_000);
  afterAll(() => children.forEach((c) => c.kill('SIGTERM')));

  function run(args: string[], env: Record<string, string> = {}): Promise<{ out: string; err: string; code: number | null }> {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    if (!('WECHAT_SIM_LATENCY_MS' in env)) delete childEnv.WECHAT_SIM_LATENCY_MS; // the default unless a test sets it
    const child = spawn(process.execPath, [bin, '--port', '0', '--json', '--app', `mini:${MINI.appid}:${MINI.secret}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    children.push(child);
    let out = '';
    let err = '';
    return new Promise((done) => {
      child.stderr!.on('data', (d) => (err += d));
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.endsWith('\n')) done({ out, err, code: null });
      });
      child.on('close', (code) => done({ out, err, code }));
    });
  }

  it('the flag delays WeChat answers, not /__sim', async () => {
    const { out } = await run(['--latency-ms', String(DELAY)]);
    const info = JSON.parse(out) as { url: string; latencyMs: number };
    expect(info.latencyMs).toBe(DELAY);
    await loginTimes(info.url);
    const t = await loginTimes(info.url);
    expect(t.apiMs).toBeGreaterThanOrEqual(DELAY - 5);
    // /__sim is not delayed: with the largest latency a control call still answers (delayed, it would outlast the test's timeout)
    const slow = JSON.parse((await run(['--latency-ms', String(LONG)])).out) as { url: string; latencyMs: number };
    expect(slow.latencyMs).toBe(LONG);
    expect(await simCodeFrom(slow.url)).toBeTruthy();
  });

  it('is off by default (no flag, no WECHAT_SIM_LATENCY_MS)', async () => {
    const info = JSON.parse((await run([])).out) as { url: string; latencyMs: number };
    expect(info.latencyMs).toBe(0);
    expect((await loginTimes(info.url)).openid).toMatch(/^o/);
  });

  it('WECHAT_SIM_LATENCY_MS sets it when the flag is absent; the flag wins', async () => {
    const fromEnv = JSON.parse((await run([], { WECHAT_SIM_LATENCY_MS: String(DELAY) })).out) as { url: string; latencyMs: number };
    expect(fromEnv.latencyMs).toBe(DELAY);
    await loginTimes(fromEnv.url);
    expect((await loginTimes(fromEnv.url)).apiMs).toBeGreaterThanOrEqual(DELAY - 5);
    const flagWins = JSON.parse((await run(['--latency-ms', '0'], { WECHAT_SIM_LATENCY_MS: String(DELAY) })).out) as { latencyMs: number };
    expect(flagWins.latencyMs).toBe(0);
  });

  it('a bad value is a usage error (exit 2) naming where it came from', async () => {
    const flag = await run(['--latency-ms', 'soon']);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/--latency-ms "soon"/);
    const env = await run([], { WECHAT_SIM_LATENCY_MS: '-5' });
    expect(env.code).toBe(2);
    expect(env.err).toMatch(/WECHAT_SIM_LATENCY_MS "-5"/);
    // the range is checkLatencyMs's (0-60000), reported as the CLI's usage error
    const tooLong = await run(['--latency-ms', '60001']);
    expect(tooLong.code).toBe(2);
    expect(tooLong.err).toMatch(/--latency-ms "60001": expected a whole number of milliseconds 0-60000/);
  });
});
