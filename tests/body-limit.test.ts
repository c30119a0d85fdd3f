// The JSON body limit (api/_lib/http/json.ts `limitBody`) over a real socket: a stated length is
// judged from the header, a chunked body is counted as it is read; both refuse at 16 KB with 413.
import { request } from 'node:http';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitBody } from '../packages/server/src/http/json.js';
import { simCode, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

/** POST over node:http: with `chunked`, the body goes out in pieces with no Content-Length. */
function post(path: string, body: string, chunked: boolean): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
    if (!chunked) headers['content-length'] = String(Buffer.byteLength(body));
    const req = request(`${stack.apiUrl}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    if (chunked) {
      for (let i = 0; i < body.length; i += 1000) req.write(body.slice(i, i + 1000));
      req.end();
    } else req.end(body);
  });
}

describe('JSON body limit on the login endpoint', () => {
  it('a body with Content-Length within the limit logs in', async () => {
    const res = await post('/api/auth/mini/login', JSON.stringify({ code: await simCode(stack, 'sized') }), false);
    expect(res.status).toBe(200);
    expect(res.body.isNewUser).toBe(true);
  });

  it('a chunked body (no Content-Length) within the limit logs in', async () => {
    const res = await post('/api/auth/mini/login', JSON.stringify({ code: await simCode(stack, 'chunky'), pad: 'x'.repeat(5000) }), true);
    expect(res.status).toBe(200);
  });

  it.each([false, true])('a body over 16 KB is refused with 413 payload_too_large (chunked: %s)', async (chunked) => {
    const before = stack.sim.calls.get('jscode2session') ?? 0;
    const res = await post('/api/auth/mini/login', JSON.stringify({ code: await simCode(stack, 'big'), pad: 'x'.repeat(20_000) }), chunked);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'payload_too_large', message: '请求体过大' } });
    expect((stack.sim.calls.get('jscode2session') ?? 0) - before).toBe(0);
  });
});

describe('JSON body limit on PATCH /api/auth/me', () => {
  it.each([false, true])('a body over 16 KB is refused with 413 before the profile is touched (chunked: %s)', async (chunked) => {
    const login = await post('/api/auth/mini/login', JSON.stringify({ code: await simCode(stack, `me-limit-${chunked}`) }), false);
    const res = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const body = JSON.stringify({ nickname: 'x'.repeat(20_000) });
      const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${login.body.token}`, connection: 'close' };
      if (!chunked) headers['content-length'] = String(Buffer.byteLength(body));
      const req = request(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers }, (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c) => (text += c));
        r.on('end', () => resolve({ status: r.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'payload_too_large' } });
  });
});

describe('limitBody', () => {
  const app = new Hono();
  const seen: string[] = [];
  app.use('*', limitBody(10, (c) => c.json({ refused: true }, 413)));
  app.all('*', async (c) => {
    seen.push(await c.req.text());
    return c.json({ ok: true });
  });

  it('judges a stated Content-Length before reading, exactly at the limit and one over', async () => {
    const at = await app.request('/x', { method: 'POST', body: '0123456789', headers: { 'content-length': '10' } });
    expect(at.status).toBe(200);
    const over = await app.request('/x', { method: 'POST', body: '0123456789', headers: { 'content-length': '11' } });
    expect(over.status).toBe(413);
    expect(seen).toEqual(['0123456789']);
  });

  it('counts a body without Content-Length, and lets GET through', async () => {
    expect((await app.request('/x', { method: 'POST', body: 'x'.repeat(11) })).status).toBe(413);
    expect((await app.request('/x', { method: 'PUT', body: 'y'.repeat(10) })).status).toBe(200);
    expect((await app.request('/x')).status).toBe(200);
  });
});
