import { describe, expect, it } from 'vitest';
import { testServices } from './support/services.js';

const { app } = testServices();
const json = (body: string, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body,
});

async function envelope(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await res.json();
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error.code as string;
}

describe('every failure answers with the JSON error envelope', () => {
  it('404 for an unknown path', async () => {
    const res = await app.request('/api/nope');
    expect(res.status).toBe(404);
    expect(await envelope(res)).toBe('not_found');
  });

  it('405 with Allow for a known path and the wrong method', async () => {
    const res = await app.request('/api/auth/mini/login');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await envelope(res)).toBe('method_not_allowed');
    const post = await app.request('/api/auth/me', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, PUT, PATCH, DELETE');
  });

  it('413 for a body over the limit', async () => {
    const res = await app.request('/api/auth/mini/login', json(JSON.stringify({ code: 'a'.repeat(40_000) })));
    expect(res.status).toBe(413);
    expect(await envelope(res)).toBe('payload_too_large');
  });

  it('400 invalid_json for malformed JSON', async () => {
    for (const body of ['{"code":', '', 'null x', '\u0000']) {
      const res = await app.request('/api/auth/mini/login', json(body));
      expect(res.status).toBe(400);
      expect(await envelope(res)).toBe('invalid_json');
    }
  });

  it('400 invalid_request for JSON of the wrong shape, naming the field', async () => {
    for (const body of ['null', '[]', '"code"', '{"code": 5}', '{"code":"abc def ghi"}', '{"code":"abcdefgh","profile":"x"}']) {
      const res = await app.request('/api/auth/mini/login', json(body));
      expect(res.status).toBe(400);
      expect(await envelope(res)).toBe('invalid_request');
    }
    const res = await app.request('/api/auth/mini/login', json('{"code": 5}'));
    expect((await res.json()).error.message).toContain('code');
  });

  it('415 for a body that is not declared as JSON', async () => {
    const res = await app.request('/api/auth/mini/login', { method: 'POST', body: 'code=abc', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);
    expect(await envelope(res)).toBe('unsupported_media_type');
  });

  it('401 for /api/auth/me without a token, with a garbage token, or with a token in the URL', async () => {
    for (const init of [{}, { headers: { authorization: 'Bearer not-a-token' } }, { headers: { authorization: 'Basic abc' } }]) {
      const res = await app.request('/api/auth/me', init);
      expect(res.status).toBe(401);
      expect(await envelope(res)).toBe('unauthorized');
    }
    const res = await app.request('/api/auth/me?token=abcdefghijklmnopqrstuvwxyz234567');
    expect(res.status).toBe(401);
  });

  it('503 wechat_unavailable when WeChat cannot be reached', async () => {
    const res = await app.request('/api/auth/mini/login', json('{"code":"abcdefghijklmnop"}'));
    expect(res.status).toBe(503);
    expect(await envelope(res)).toBe('wechat_unavailable');
  });
});
