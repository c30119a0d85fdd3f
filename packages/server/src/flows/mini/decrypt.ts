import type { Sealer } from '../../crypto/seal.js';
import { AppError } from '../../errors.js';
import type { SessionManager } from '../../sessions/sessions.js';
import { defineRecord } from '../../store/records.js';
import type { EncryptedValue, SessionRecord, Storage } from '../../store/types.js';
import { openidKey } from '../../users/accounts.js';
import { DecryptError, decryptUserData, verifyRawDataSignature } from '../../wechat/crypto.js';

export interface DecryptDeps {
  appid: string;
  store: Pick<Storage, 'records' | 'accounts' | 'sessions'>;
  sessions: SessionManager;
  sealer: Sealer;
  clock?: () => number;
}

export interface DecryptInput {
  encryptedData: string;
  iv: string;
  rawData?: string;
  signature?: string;
}

/**
 * Attempts allowed per user per minute (across all their sessions — more sessions buy no more
 * tries): enough for real use, useless for a padding oracle.
 */
export const DECRYPT_PER_MINUTE = 10;

/**
 * Decrypts data the mini-program received from WeChat (share info, WeRun…) with the session_key
 * WeChat issued last to the caller's openid in this mini-program: each wx.login may rotate it and
 * the older one stops working (docs/WECHAT.md "jscode2session"), so it is the key of the user's
 * NEWEST live mini-program session for this appid, whichever session calls. Sessions from before
 * session_key moved to the session fall back to the key on the identity. Every failure is the same
 * `decrypt_failed`. The result is returned to the caller only; it never sets identity fields.
 */
export async function decryptForSession(deps: DecryptDeps, session: SessionRecord, input: DecryptInput): Promise<Record<string, unknown>> {
  const sealed = await latestSessionKey(deps, session.userId);
  // Sealed with a key this instance lacks (a rotation half-deployed): a configuration error that
  // spends nothing — another instance, or this one once configured, can still open it.
  if (sealed && !deps.sealer.knows(sealed.value.kid)) throw new AppError('seal_key_unknown');
  await rateLimit(deps, session.userId);
  try {
    if (!sealed) throw new DecryptError();
    const sessionKey = deps.sealer.open(sealed.value, sealed.identity);
    if (input.rawData !== undefined || input.signature !== undefined) {
      if (!verifyRawDataSignature(input.rawData ?? '', input.signature ?? '', sessionKey)) throw new DecryptError();
    }
    const data = decryptUserData(sessionKey, input.encryptedData, input.iv, deps.appid);
    const { watermark: _watermark, ...rest } = data;
    return rest;
  } catch {
    throw new AppError('decrypt_failed');
  }
}

async function latestSessionKey(deps: DecryptDeps, userId: string): Promise<{ value: EncryptedValue; identity: string } | null> {
  const prefix = openidKey(deps.appid, '');
  const newest = (await deps.sessions.sealedSessionKeys(userId)).find((k) => k.identity.startsWith(prefix));
  if (newest) return { value: newest.sealed, identity: newest.identity };
  const identity = (await deps.store.accounts.listIdentities(userId)).find((i) => i.kind === 'oid' && i.appid === deps.appid && i.sessionKey);
  return identity?.sessionKey ? { value: identity.sessionKey, identity: identity.key } : null;
}

/** `decrypt_rate:user:<userId>:<minute>`: one temporary record per user and minute (expired ids are never reused). */
const decryptRates = defineRecord({ prefix: 'decrypt_rate', schema: (z) => z.object({ minute: z.number(), count: z.number() }), ttlMs: 2 * 60_000 });

async function rateLimit(deps: DecryptDeps, userId: string): Promise<void> {
  const at = deps.clock?.() ?? Date.now();
  const records = { store: deps.store, clock: () => new Date(at) };
  const minute = Math.floor(at / 60_000);
  const key = `user:${userId}:${minute}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const rec = await decryptRates.read(records, key);
    const count = rec ? rec.value.count : 0;
    if (count >= DECRYPT_PER_MINUTE) throw new AppError('too_many_requests');
    // Kept until the minute it counts is over, then swept / TTL-deleted.
    const value = { minute, count: count + 1 };
    const written = rec ? await decryptRates.update(records, rec, value) : await decryptRates.create(records, key, value, { expiresAt: new Date((minute + 2) * 60_000) });
    if (written) return;
  }
  throw new AppError('too_many_requests');
}
