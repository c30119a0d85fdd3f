import type { Store } from '../store/types.js';
import { deleteOwnedAvatar } from './avatar.js';

/**
 * 注销账号: removes the person's identities (with their session_keys), phone, uploaded avatar,
 * sessions and the user record. A later WeChat login starts a brand-new account.
 * Order: sessions first (the account stops working at once), identities next (a new login can no
 * longer reach the account), the user record last.
 */
export async function deleteAccount(store: Store, userId: string): Promise<void> {
  const user = await store.getUser(userId);
  await store.deleteUserSessions(userId);
  for (const identity of await store.getUserIdentities(userId)) await store.deleteIdentity(identity.key);
  // Only an image this person uploaded is deleted; another user's image is never touched.
  await deleteOwnedAvatar(store, user);
  await store.deleteUser(userId);
}
