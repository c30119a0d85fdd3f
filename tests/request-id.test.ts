import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Operations (issue 12): one request id per request — on every log line written while the request
 * runs, in every error response body and in the `x-request-id` header — so a user's screenshot of
 * an error leads straight to the log lines of that request.
 */
const lines: string[] = [];
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
});
afterAll(() => stack.close());

const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('request ids', () => {
  it('a failed login: the error body, the header and every log line of the request carry the same id', async () => {
    await postJson(`${stack.simUrl}/__sim/faults`, { api: 'jscode2session', mode: 'http_500', times: 1 });
    const code = await simCode(stack, 'rid-user');
    lines.length = 0;
    const res = await fetch(`${stack.apiUrl}/api/auth/mini/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body.error.code).toBe('wechat_unavailable');
    const id = body.error.requestId;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-request-id')).toBe(id);
    const logged = parsed();
    // WeChat's failure (transport), the 5xx (http.failed) and the access line — all of one request.
    expect(logged.map((l) => l.event)).toEqual(expect.arrayContaining(['wechat.unavailable', 'http.failed', 'http.request']));
    for (const line of logged) expect(line.requestId, JSON.stringify(line)).toBe(id);
  });

  it('every error envelope has one, and two requests never share it', async () => {
    const a = await fetch(`${stack.apiUrl}/api/nope`);
    const b = await fetch(`${stack.apiUrl}/api/auth/me`);
    const [ba, bb] = [await a.json(), await b.json()];
    expect([ba.error.code, bb.error.code]).toEqual(['not_found', 'unauthorized']);
    expect(ba.error.requestId).toBe(a.headers.get('x-request-id'));
    expect(bb.error.requestId).toBe(b.headers.get('x-request-id'));
    expect(ba.error.requestId).not.toBe(bb.error.requestId);
  });

  it('successful responses carry the header too', async () => {
    const res = await fetch(`${stack.apiUrl}/api/auth/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a proxy's x-request-id (nginx $request_id) or Vercel's x-vercel-id is kept; junk is replaced", async () => {
    const proxied = await fetch(`${stack.apiUrl}/api/nope`, { headers: { 'x-request-id': 'f3a9c1d2e4b5a6978812' } });
    expect((await proxied.json()).error.requestId).toBe('f3a9c1d2e4b5a6978812');
    const vercel = await fetch(`${stack.apiUrl}/api/nope`, { headers: { 'x-vercel-id': 'hkg1::abcde-1700000000000-0123456789ab' } });
    expect(vercel.headers.get('x-request-id')).toBe('hkg1::abcde-1700000000000-0123456789ab');
    const junk = await fetch(`${stack.apiUrl}/api/nope`, { headers: { 'x-request-id': '<script>alert(1)</script>' } });
    const id = (await junk.json()).error.requestId;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('lines written outside a request have no id (start-up, background)', () => {
    const logger = createLogger((line) => lines.push(line), 'info');
    lines.length = 0;
    logger.log('info', 'outside');
    expect(parsed()[0]).not.toHaveProperty('requestId');
  });
});
