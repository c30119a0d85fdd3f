import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../packages/server/src/crypto/seal.js';
import { decryptForSession } from '../packages/server/src/flows/mini/decrypt.js';
import { miniLogin } from '../packages/server/src/flows/mini/login.js';
import { silentLogger } from '../packages/server/src/log.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import type { Code2SessionResult } from '../packages/server/src/wechat/mini/jscode2session.js';

// A returning person's jscode2session answer carries a NEW session_key (wechat-api-facts.md §1:
// every wx.login may rotate it) and sometimes a unionid that was missing before. The stored
// identity must follow: decrypting data WeChat encrypted with the new key works, the old key's
// data no longer opens, and the unionid link appears.
const APPID = 'wx00000000000000c1';

/** encryptedData as WeChat produces it (§3): AES-128-CBC, PKCS#7, key = base64 session_key. */
function wechatEncrypt(sessionKey: string, payload: Record<string, unknown>) {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  const body = JSON.stringify({ ...payload, watermark: { appid: APPID, timestamp: 1_700_000_000 } });
  return { encryptedData: Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]).toString('base64'), iv: iv.toString('base64') };
}

function setup() {
  const store = new EmbeddedStore({ dir: null });
  const sessions = createSessionManager(store);
  const sealer = createSealer(new Map([['k1', randomBytes(32)]]));
  const answers: Code2SessionResult[] = [];
  const deps = {
    appid: APPID,
    store,
    sessions,
    sealer,
    logger: silentLogger,
    inFlight: new Set<string>(),
    exchangeCode: async () => answers.shift()!,
  };
  let n = 0;
  const login = async (answer: Code2SessionResult) => {
    answers.push(answer);
    const result = await miniLogin(deps, { code: `code${++n}` });
    const { session } = await sessions.validate(result.token);
    return { ...result, session: session! };
  };
  // a fresh minute window each call, so the decrypt rate limit stays out of the way
  let minute = 0;
  const decrypt = (session: Awaited<ReturnType<typeof login>>['session'], input: { encryptedData: string; iv: string }) =>
    decryptForSession({ appid: APPID, store, sealer, sessions, clock: () => ++minute * 60_000 }, session, input);
  return { store, login, decrypt };
}

const keyA = randomBytes(16).toString('base64');
const keyB = randomBytes(16).toString('base64');

describe('a returning mini-program login stores what WeChat answered this time', () => {
  for (const unionid of [null, 'uUNION000000000000000000001']) {
    it(`the new session_key replaces the old one (unionid ${unionid ? 'present' : 'absent'})`, async () => {
      const s = setup();
      const first = await s.login({ openid: 'oRET1', sessionKey: keyA, unionid });
      expect(first.isNewUser).toBe(true);
      expect(await s.decrypt(first.session, wechatEncrypt(keyA, { n: 1 }))).toEqual({ n: 1 });

      const second = await s.login({ openid: 'oRET1', sessionKey: keyB, unionid });
      expect(second.isNewUser).toBe(false);
      expect(second.user.id).toBe(first.user.id);
      // Any session of the user decrypts with the key of the latest login…
      expect(await s.decrypt(second.session, wechatEncrypt(keyB, { n: 2 }))).toEqual({ n: 2 });
      expect(await s.decrypt(first.session, wechatEncrypt(keyB, { n: 3 }))).toEqual({ n: 3 });
      // …and data encrypted under the replaced key no longer opens.
      const old = await s.decrypt(second.session, wechatEncrypt(keyA, { n: 4 })).catch((e) => e);
      expect(old.code).toBe('decrypt_failed');
    });
  }

  it('a unionid that arrives on a later login is recorded and linked to the same user', async () => {
    const s = setup();
    const first = await s.login({ openid: 'oRET2', sessionKey: keyA, unionid: null });
    expect(await s.store.accounts.getIdentity('uid:uLATE0000000000000000000001')).toBeNull();
    const second = await s.login({ openid: 'oRET2', sessionKey: keyB, unionid: 'uLATE0000000000000000000001' });
    expect(second.user.id).toBe(first.user.id);
    expect((await s.store.accounts.getIdentity('uid:uLATE0000000000000000000001'))?.userId).toBe(first.user.id);
    const oid = await s.store.accounts.getIdentity(`oid:${APPID}:oRET2`);
    expect(oid?.unionid).toBe('uLATE0000000000000000000001');
    expect(await s.decrypt(second.session, wechatEncrypt(keyB, { n: 5 }))).toEqual({ n: 5 });
  });
});
