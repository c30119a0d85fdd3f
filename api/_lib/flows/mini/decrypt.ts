import type { Sealer } from '../../crypto/seal.js';
import { AppError } from '../../errors.js';
import type { SessionRecord, Store } from '../../store/types.js';
import { openidKey } from '../../users/accounts.js';
import { DecryptError, decryptUserData, verifyRawDataSignature } from '../../wechat/crypto.js';

export interface DecryptDeps {
  appid: string;
  store: Store;
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
 * Decrypts data the mini-program received from WeChat (share info, WeRun…) with the stored
 * session_key of the caller's mini-program identity. Every failure is the same `decrypt_failed`.
 * The result is returned to the caller only; it never sets identity fields (openid, unionid, phone).
 */
export async function decryptForSession(deps: DecryptDeps, session: SessionRecord, input: DecryptInput): Promise<Record<string, unknown>> {
  const identity = (await deps.store.getUserIdentities(session.userId)).find((i) => i.kind === 'oid' && i.appid === deps.appid && i.sessionKey);
  // Sealed with a key this instance lacks (a rotation half-deployed): a configuration error that
  // spends nothing — another instance, or this one once configured, can still open it.
  if (identity?.sessionKey && !deps.sealer.knows(identity.sessionKey.kid)) throw new AppError('seal_key_unknown');
  await rateLimit(deps, session.userId);
  try {
    if (!identity?.sessionKey) throw new DecryptError();
    const sessionKey = deps.sealer.open(identity.sessionKey, openidKey(deps.appid, identity.openid!));
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

async function rateLimit(deps: DecryptDeps, userId: string): Promise<void> {
  const minute = Math.floor((deps.clock?.() ?? Date.now()) / 60_000);
  // One temporary record per user and minute (expired ids are never reused).
  const id = `decrypt_rate:user:${userId}:${minute}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const rec = await deps.store.getRecord(id);
    const count = rec ? Number(rec.value.count) : 0;
    if (count >= DECRYPT_PER_MINUTE) throw new AppError('too_many_requests');
    // Kept until the minute it counts is over, then swept / TTL-deleted.
    if (await deps.store.compareAndSetRecord(id, { minute, count: count + 1 }, rec?.version ?? null, new Date((minute + 2) * 60_000))) return;
  }
  throw new AppError('too_many_requests');
}
