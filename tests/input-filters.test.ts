import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { AppError } from '../packages/server/src/errors.js';
import { safeNext } from '../packages/server/src/flows/oauth/login.js';
import { readBearerToken, requireSession, type AuthVariables } from '../packages/server/src/http/auth.js';
import type { SessionManager } from '../packages/server/src/sessions/sessions.js';
import { verifyRawDataSignature } from '../packages/server/src/wechat/crypto.js';

// Small filters that stand between attacker-chosen text and a security decision. Each test
// probes both ends of a rule (what must pass, and the nearest thing that must not).

describe('Authorization: Bearer <token> is read from the whole header only', () => {
  it('accepts the scheme in any case, with one or more spaces and trailing spaces', () => {
    expect(readBearerToken('Bearer abc234')).toBe('abc234');
    expect(readBearerToken('bearer abc234')).toBe('abc234');
    expect(readBearerToken('BEARER  abc234  ')).toBe('abc234');
  });

  it('is anchored at the start: a Bearer hidden after another scheme or text is refused', () => {
    expect(readBearerToken('Basic Bearer abc234')).toBeNull();
    expect(readBearerToken('xBearer abc234')).toBeNull();
    expect(readBearerToken(' Bearer abc234')).toBeNull();
  });

  it('is anchored at the end: a second word after the token is refused, not cut off', () => {
    expect(readBearerToken('Bearer abc234 extra')).toBeNull();
    expect(readBearerToken('Bearer abc234\tx')).toBeNull();
    expect(readBearerToken('Bearer abc234\n')).toBeNull();
  });

  it('refuses a missing token, a missing space and other schemes', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Bearerabc234', 'Token abc234', 'abc234']) expect(readBearerToken(header)).toBeNull();
  });
});

describe('requireSession', () => {
  function app() {
    const validated: string[] = [];
    const sessions = {
      validate: async (token: string) => {
        validated.push(token);
        return { session: null, user: null };
      },
    } as unknown as SessionManager;
    const hono = new Hono<{ Variables: AuthVariables }>();
    hono.onError((error, c) => c.json({ code: error instanceof AppError ? error.code : 'other' }, 401));
    hono.get('/me', requireSession(sessions), (c) => c.json({ ok: true }));
    return { hono, validated };
  }

  it('refuses a request without a usable Bearer header before asking the sessions (no store work)', async () => {
    const { hono, validated } = app();
    for (const headers of [{}, { authorization: '' }, { authorization: 'Basic abc' }, { authorization: 'Bearer a b' }] as Record<string, string>[]) {
      const res = await hono.request('/me', { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ code: 'unauthorized' });
    }
    expect(validated).toEqual([]);
  });

  it('asks the sessions about exactly the token in the header, and refuses an unknown one', async () => {
    const { hono, validated } = app();
    const res = await hono.request('/me', { headers: { authorization: 'Bearer abc234' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 'unauthorized' });
    expect(validated).toEqual(['abc234']);
  });
});

describe('rawData signature (wechat-api-facts.md §3): exactly 40 hex characters', () => {
  // The official example: sha1(rawData + session_key) = 75e81ced…
  const rawData = '{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}';
  const sessionKey = 'HyVFkGl5F5OQWJZZaNzBBg==';
  const signature = '75e81ceda165f4ffa64f4068af58c64b8f54b88c';

  it('accepts the right signature in either case', () => {
    expect(verifyRawDataSignature(rawData, signature, sessionKey)).toBe(true);
    expect(verifyRawDataSignature(rawData, signature.toUpperCase(), sessionKey)).toBe(true);
  });

  it('answers false (never throws, never true) for the right signature with text before or after it', () => {
    for (const bad of [`x${signature}`, `0${signature}`, `${signature}x`, `${signature}0`, `${signature}00`, `${signature} `, signature.slice(1), `-${signature}`]) {
      let result: unknown;
      expect(() => (result = verifyRawDataSignature(rawData, bad, sessionKey)), bad).not.toThrow();
      expect(result, bad).toBe(false);
    }
  });
});

describe('the `next` filter (where the H5 login page continues after an OAuth login)', () => {
  it('keeps a same-site path, including printable ASCII and non-ASCII characters', () => {
    for (const next of ['/', '/pages/account/index', '/pages/a/b?x=1&y=%20#frag', '/a b', '/a~b', '/页面']) expect(safeNext(next)).toBe(next);
  });

  it('refuses every C0 control character and DEL, anywhere in the path', () => {
    const refused = [0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1e, 0x1f, 0x7f];
    for (const code of refused) {
      const ch = String.fromCharCode(code);
      expect(safeNext(`/a${ch}b`), `U+${code.toString(16)}`).toBeNull();
      expect(safeNext(`/ab${ch}`), `U+${code.toString(16)} at the end`).toBeNull();
    }
    // the neighbours of the refused ranges stay allowed
    expect(safeNext('/a\u0020b')).toBe('/a\u0020b');
    expect(safeNext('/a\u007eb')).toBe('/a\u007eb');
    expect(safeNext('/a\u0080b')).toBe('/a\u0080b');
  });

  it('refuses other origins, backslashes and overlong values', () => {
    for (const next of ['//evil.example', '/\\evil.example', '/a\\b', 'https://evil.example/', 'pages/x', '', null, undefined, `/${'a'.repeat(512)}`]) expect(safeNext(next)).toBeNull();
    expect(safeNext(`/${'a'.repeat(511)}`)).toBe(`/${'a'.repeat(511)}`);
  });
});
