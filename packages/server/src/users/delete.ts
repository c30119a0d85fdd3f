import type { Storage, UserRecord } from '../store/types.js';
import { emitUserEvent, type UserEvents } from './hooks.js';

export interface AccountDeletion {
  /** the host's userDeleted hook, once per deleted account, after everything is deleted */
  events?: UserEvents | undefined;
  /**
   * What other flows keep about an account and must drop with it (the official account's kept
   * WeChat grants, flows/wechat-sync): called per account while its identities still exist.
   */
  forget?: ((userId: string) => Promise<unknown>) | undefined;
}
import { deleteOwnedAvatar } from './avatar.js';

/**
 * 注销账号: removes everything that was ever this person's — the account and every account merged
 * into it (late unionid, docs/ACCOUNTS.md), each with its sessions, identities (and their sealed
 * session_keys), phone, uploaded avatar and user record. A later WeChat login starts a new account.
 * Order: sessions first (the account stops working at once), identities next (a new login can no
 * longer reach the account), blobs, and the user records last — so a deletion interrupted half-way
 * can be finished by calling it again (the merged accounts are still found through `mergedInto`).
 * What other flows keep (`forget`) goes before the identities that name it, for merged accounts too.
 */
export async function deleteAccount(store: Pick<Storage, 'accounts' | 'sessions' | 'blobs'>, userId: string, deps: AccountDeletion = {}): Promise<void> {
  const users = await personAccounts(store, userId);
  const ids = [userId, ...users.filter((u) => u.id !== userId).map((u) => u.id)];
  for (const id of ids) await store.sessions.deleteByUser(id);
  for (const id of ids) await deps.forget?.(id);
  for (const id of ids) for (const identity of await store.accounts.listIdentities(id)) await store.accounts.deleteIdentity(identity.key);
  // Only images these accounts uploaded are deleted; another user's image is never touched.
  for (const user of users) await deleteOwnedAvatar(store, user);
  // Merged-away accounts first: the survivor's record is what finds them on a retry.
  for (const id of ids.slice(1).reverse()) await store.accounts.deleteUser(id);
  await store.accounts.deleteUser(userId);
  for (const id of ids) await emitUserEvent(deps.events, 'userDeleted', id);
}

/** The account and, transitively, every account merged into it. */
async function personAccounts(store: Pick<Storage, 'accounts'>, userId: string): Promise<UserRecord[]> {
  const found = new Map<string, UserRecord>();
  const root = await store.accounts.getUser(userId);
  if (root) found.set(root.id, root);
  const queue = [userId];
  while (queue.length) {
    const id = queue.shift()!;
    for (const merged of await store.accounts.listMergedInto(id)) {
      if (found.has(merged.id)) continue;
      found.set(merged.id, merged);
      queue.push(merged.id);
    }
  }
  return [...found.values()];
}
