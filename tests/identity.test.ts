import { storeStats } from './support/records.js';
import { createCipheriv, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECRYPT_PER_MINUTE } from '../packages/server/src/flows/mini/decrypt.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function loginAs(user: string, s = stack) {
  const res = await postJson(`${s.apiUrl}/api/auth/mini/login`, { code: await simCode(s, user) });
  expect(res.status).toBe(200);
  return res.body as { token: string; user: { id: string } };
}
const authed = (token: string, init: RequestInit = {}) => ({ ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
const phoneCode = async (user: string, phone?: string, s = stack) =>
  (await postJson(`${s.simUrl}/__sim/mini/phone-code`, { appid: s.appid, user, phone })).body.code as string;

describe('phone number', () => {
  it('is saved from WeChat\'s server-to-server answer and shown masked', async () => {
    const { token } = await loginAs('phoebe');
    const res = await postJson(`${stack.apiUrl}/api/auth/me/phone`, { code: await phoneCode('phoebe', '13912345678') }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.body.user.phoneMasked).toBe('139****5678');
    const me = await (await fetch(`${stack.apiUrl}/api/auth/me`, authed(token))).json();
    expect(me.user.phoneMasked).toBe('139****5678');
  });

  it('refuses a reused or unknown phone code with a clear message', async () => {
    const { token } = await loginAs('phil');
    const code = await phoneCode('phil');
    expect((await postJson(`${stack.apiUrl}/api/auth/me/phone`, { code }, { authorization: `Bearer ${token}` })).status).toBe(200);
    for (const c of [code, 'f'.repeat(64)]) {
      const again = await postJson(`${stack.apiUrl}/api/auth/me/phone`, { code: c }, { authorization: `Bearer ${token}` });
      expect(again.status).toBe(400);
      expect(again.body.error).toMatchObject({ code: 'phone_code_invalid', message: '手机号授权已失效，请重新点击获取手机号' });
    }
  });
});

describe('decrypting WeChat data', () => {
  function encrypt(sessionKey: string, payload: object) {
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
    return { encryptedData: Buffer.concat([cipher.update(JSON.stringify(payload)), cipher.final()]).toString('base64'), iv: iv.toString('base64') };
  }

  it('decrypts with the stored session_key and checks the watermark', async () => {
    const { token } = await loginAs('dora');
    const key = stack.sim.currentSessionKey(stack.appid, 'dora')!;
    const body = encrypt(key, { openGId: 'tG123', watermark: { appid: stack.appid, timestamp: 1 } });
    const res = await postJson(`${stack.apiUrl}/api/auth/mini/decrypt`, body, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ openGId: 'tG123' });
  });

  it('answers every malformed input with the same decrypt_failed, then rate-limits', async () => {
    const { token } = await loginAs('eve');
    const key = stack.sim.currentSessionKey(stack.appid, 'eve')!;
    const good = encrypt(key, { x: 1, watermark: { appid: stack.appid } });
    const bad = [
      encrypt(key, { x: 1, watermark: { appid: 'wx0000000000000000' } }),
      encrypt(randomBytes(16).toString('base64'), { x: 1, watermark: { appid: stack.appid } }),
      { ...good, encryptedData: good.encryptedData.slice(0, -8) + 'AAAAAAA=' },
      { ...good, iv: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { ...good, encryptedData: 'not-base64' },
      { ...good, rawData: '{"a":1}', signature: '0'.repeat(40) },
    ];
    const answers = new Set<string>();
    for (const body of bad) {
      const res = await postJson(`${stack.apiUrl}/api/auth/mini/decrypt`, body, { authorization: `Bearer ${token}` });
      expect(res.status).toBe(400);
      // Only the request id (different for every request, issue 12) may differ between the answers.
      const { requestId, ...error } = res.body.error;
      expect(requestId).toEqual(expect.any(String));
      answers.add(JSON.stringify({ error }));
    }
    expect([...answers]).toEqual([JSON.stringify({ error: { code: 'decrypt_failed', message: '数据解密失败，请重新登录后再试' } })]);
    let limited = 0;
    for (let i = bad.length; i < DECRYPT_PER_MINUTE + 2; i++) {
      const res = await postJson(`${stack.apiUrl}/api/auth/mini/decrypt`, good, { authorization: `Bearer ${token}` });
      if (res.status === 429) limited++;
    }
    expect(limited).toBe(2);
  });
});

describe('avatar upload', () => {
  const upload = (token: string, bytes: Buffer, type = 'image/png') => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type }), 'avatar');
    return fetch(`${stack.apiUrl}/api/auth/me/avatar`, authed(token, { method: 'POST', body: form }));
  };

  it('re-encodes a real image without its EXIF, serves it cached, and sets it on the user', async () => {
    const { token } = await loginAs('ava');
    const jpeg = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#3a7' } })
      .jpeg()
      .withExif({ IFD0: { Copyright: 'secret-location-data' } })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).exif).toBeDefined();
    const res = await upload(token, jpeg, 'image/jpeg');
    expect(res.status).toBe(200);
    const { avatarUrl, user } = await res.json();
    expect(avatarUrl).toMatch(/^\/api\/auth\/avatars\/[0-9a-f]{32}\.jpg$/);
    expect(user.avatarUrl).toBe(avatarUrl);
    const image = await fetch(`${stack.apiUrl}${avatarUrl}`);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(image.headers.get('cache-control')).toContain('immutable');
    const bytes = Buffer.from(await image.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect([meta.width, meta.height]).toEqual([256, 256]);
    expect(bytes.includes(Buffer.from('secret-location-data'))).toBe(false);
  });

  it('rejects files that are not images, and oversized bodies', async () => {
    const { token } = await loginAs('mallet');
    for (const bytes of [Buffer.from('<script>alert(1)</script>'), Buffer.from('89504e470d0a1a0a0000', 'hex'), Buffer.alloc(0)]) {
      const res = await upload(token, bytes);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('avatar_invalid');
    }
  });

  it('answers an oversized upload with 413 before reading it all', async () => {
    // Its own server: after an early 413 the server closes that connection, which must not
    // disturb the keep-alive pool of the other tests.
    const own = await startStack();
    try {
      const { token } = await loginAs('bigfoot', own);
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(randomBytes(2 * 1024 * 1024))], { type: 'image/png' }), 'a.png');
      const big = await fetch(`${own.apiUrl}/api/auth/me/avatar`, authed(token, { method: 'POST', body: form }));
      expect(big.status).toBe(413);
      expect((await big.json()).error.code).toBe('payload_too_large');
    } finally {
      await own.close();
    }
  });
});

describe('nickname content check', () => {
  it('refuses a nickname WeChat\'s msg_sec_check calls risky', async () => {
    const { token } = await loginAs('nick');
    const res = await fetch(`${stack.apiUrl}/api/auth/me`, authed(token, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: '我是违禁词' }) }));
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('content_risky');
    const ok = await fetch(`${stack.apiUrl}/api/auth/me`, authed(token, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: '小昵' }) }));
    expect(ok.status).toBe(200);
  });
});

describe('sessions', () => {
  it('lists mine, ends one, ends all (退出所有设备)', async () => {
    const phone = await loginAs('sam');
    const pad = await loginAs('sam');
    const list = await (await fetch(`${stack.apiUrl}/api/auth/sessions`, authed(phone.token))).json();
    expect(list.sessions).toHaveLength(2);
    expect(list.sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    const other = list.sessions.find((s: { current: boolean }) => !s.current);
    expect((await fetch(`${stack.apiUrl}/api/auth/sessions/${other.id}`, authed(phone.token, { method: 'DELETE' }))).status).toBe(204);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, authed(pad.token))).status).toBe(401);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, authed(phone.token))).status).toBe(200);
    const third = await loginAs('sam');
    expect((await fetch(`${stack.apiUrl}/api/auth/sessions`, authed(phone.token, { method: 'DELETE' }))).status).toBe(204);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, authed(phone.token))).status).toBe(401);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, authed(third.token))).status).toBe(401);
  });

  it('cannot end someone else\'s session', async () => {
    const a = await loginAs('alpha');
    const b = await loginAs('beta');
    const bList = await (await fetch(`${stack.apiUrl}/api/auth/sessions`, authed(b.token))).json();
    const res = await fetch(`${stack.apiUrl}/api/auth/sessions/${bList.sessions[0].id}`, authed(a.token, { method: 'DELETE' }));
    expect(res.status).toBe(404);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, authed(b.token))).status).toBe(200);
  });
});

describe('account deletion (注销账号)', () => {
  it('leaves nothing behind, and a later login starts fresh', async () => {
    const before = await storeStats(stack.services.store);
    const first = await loginAs('dana');
    await postJson(`${stack.apiUrl}/api/auth/me/phone`, { code: await phoneCode('dana') }, { authorization: `Bearer ${first.token}` });
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } }).png().toBuffer())]), 'a.png');
    const { avatarUrl } = await (await fetch(`${stack.apiUrl}/api/auth/me/avatar`, authed(first.token, { method: 'POST', body: form }))).json();
    const del = await fetch(`${stack.apiUrl}/api/auth/me`, authed(first.token, { method: 'DELETE' }));
    expect(del.status).toBe(204);
    expect(await storeStats(stack.services.store)).toMatchObject({ users: before.users, identities: before.identities, sessions: before.sessions });
    expect(await stack.services.store.accounts.getUser(first.user.id)).toBeNull();
    expect((await fetch(`${stack.apiUrl}${avatarUrl}`)).status).toBe(404);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, authed(first.token))).status).toBe(401);
    const again = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'dana') });
    expect(again.body.isNewUser).toBe(true);
    expect(again.body.user.id).not.toBe(first.user.id);
    expect(again.body.user.phoneMasked).toBeNull();
  });
});
