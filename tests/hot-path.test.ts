// The per-request middleware made cheaper for issue 11 (docs/BENCH.md, "API CPU per login") keeps
// its behaviour: the request scope, the debug access line only when debug lines are written, the deadline.
import { withPort } from './support/records.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, logs, silentLogger, type Logger, type LogLevel } from '../packages/server/src/log.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../packages/server/src/env.js';
import type { Storage } from '../packages/server/src/store/types.js';

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

function services(logger: Logger, env: Record<string, string> = {}, store: Storage = new EmbeddedStore({ dir: null })) {
  const s = createServices(optionsFromEnv({ NODE_ENV: 'test', WECHAT_MINI_APPID: 'wx0123456789abcdef', WECHAT_MINI_SECRET: 'a'.repeat(32), ...env }), { store, logger });
  stops.push(s.stop);
  return s;
}

/** A logger that records what it is asked to write (and, optionally, what it says it writes). */
function recorder(enabled?: (level: LogLevel) => boolean) {
  const lines: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
  const logger: Logger = { log: (level, event, fields = {}) => lines.push({ level, event, fields }), ...(enabled ? { enabled } : {}) };
  return { logger, lines };
}

describe('logger levels', () => {
  it('createLogger says which levels it writes; silentLogger writes none; a logger that does not say writes all', () => {
    const info = createLogger(() => {}, 'info');
    expect((['debug', 'info', 'warn', 'error'] as const).map((l) => logs(info, l))).toEqual([false, true, true, true]);
    const warn = createLogger(() => {}, 'warn');
    expect((['debug', 'info', 'warn', 'error'] as const).map((l) => logs(warn, l))).toEqual([false, false, true, true]);
    expect(logs(createLogger(() => {}, 'debug'), 'debug')).toBe(true);
    expect(logs(silentLogger, 'error')).toBe(false);
    expect(logs({ log() {} }, 'debug')).toBe(true);
  });

  it('createLogger writes exactly the levels it says it writes', () => {
    const written: string[] = [];
    const logger = createLogger((line) => written.push(JSON.parse(line).level), 'info');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) logger.log(level, 'x');
    expect(written).toEqual(['info', 'warn', 'error']);
  });
});

describe('logger redaction', () => {
  it('never writes a session record\'s sealed session_key, nor a token, even when a whole record is logged by mistake', () => {
    const written: string[] = [];
    const logger = createLogger((line) => written.push(line), 'info');
    const sealed = { kid: 'k1', data: 'c2VhbGVkLXNlc3Npb24ta2V5LXZhbHVl' };
    logger.log('info', 'oops', { session: { id: 'abc', wxSessionKey: { identity: 'oid:wx1:o1', sealed } }, token: 'lfumw7inyvlcsoj3yj2vgwx2ktnljhpd' });
    expect(written).toHaveLength(1);
    expect(written[0]).not.toContain(sealed.data);
    expect(written[0]).not.toContain('lfumw7inyvlcsoj3yj2vgwx2ktnljhpd');
    expect(JSON.parse(written[0]!).session.wxSessionKey).toBe('***');
  });
});

describe('the request scope middleware', () => {
  it('writes the access line (with the request id) when debug lines are written, once per request', async () => {
    const { logger, lines } = recorder();
    const s = services(logger);
    const res = await s.app.request('/api/auth/health', { headers: { 'x-request-id': 'rid-hot-path-0001' } });
    expect(res.status).toBe(200);
    const access = lines.filter((l) => l.event === 'http.request');
    expect(access).toHaveLength(1);
    expect(access[0]!.fields).toMatchObject({ method: 'GET', path: '/api/auth/health', status: 200 });
    expect(res.headers.get('x-request-id')).toBe('rid-hot-path-0001');
  });

  it('skips the access line when the logger writes no debug lines, and still sets the id', async () => {
    const { logger, lines } = recorder((level) => level !== 'debug');
    const s = services(logger);
    const res = await s.app.request('/api/nope');
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await res.json()).error.requestId).toBe(id);
    expect(lines.filter((l) => l.event === 'http.request')).toHaveLength(0);
  });

  it('log lines written inside a request carry its id; outside, none', async () => {
    const written: Record<string, unknown>[] = [];
    const s = services(createLogger((line) => written.push(JSON.parse(line)), 'debug'));
    await s.app.request('/api/nope', { headers: { 'x-request-id': 'rid-hot-path-0002' } });
    s.logger.log('info', 'outside');
    expect(written.find((l) => l.event === 'http.request')?.requestId).toBe('rid-hot-path-0002');
    expect(written.find((l) => l.event === 'outside')?.requestId).toBeUndefined();
  });
});

describe('the request deadline', () => {
  /** A store whose session lookup never settles before `hangMs`. */
  function slowStore(hangMs: number, fail = false): Storage {
    const store = new EmbeddedStore({ dir: null });
    return withPort(store, 'sessions', {
      get: () => new Promise((resolve, reject) => setTimeout(() => (fail ? reject(new Error('store boom')) : resolve(null)), hangMs)),
    });
  }

  it('a request that ends before the deadline keeps its own answer, and a late failure after the deadline is harmless', async () => {
    const { logger, lines } = recorder();
    const fast = services(logger, { REQUEST_DEADLINE_MS: '1000' });
    const ok = await fast.app.request('/api/auth/me', { headers: { authorization: `Bearer ${'a'.repeat(32)}` } });
    expect(ok.status).toBe(401);
    expect(lines.filter((l) => l.event === 'http.deadline')).toHaveLength(0);

    const late = services(logger, { REQUEST_DEADLINE_MS: '1000' }, slowStore(1500, true));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const started = Date.now();
      const res = await late.app.request('/api/auth/me', { headers: { authorization: `Bearer ${'a'.repeat(32)}` } });
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('request_timeout');
      expect(Date.now() - started).toBeLessThan(1400);
      expect(lines.filter((l) => l.event === 'http.deadline')).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 700)); // the store fails after the answer was sent
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
