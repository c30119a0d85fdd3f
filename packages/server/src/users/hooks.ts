import type { Logger } from '../log.js';
import type { UserRecord } from '../store/types.js';

/**
 * For a host that keeps its own user (profile) table, joined on `user.id`: each hook is called
 * after the change is stored. A hook that throws (or rejects) is logged (`user.hook_failed`) and
 * changes nothing: the login, merge or deletion stays as stored.
 */
export interface UserHooks {
  /** A new account was created by a first login (any door). */
  userCreated?(user: UserRecord): void | Promise<void>;
  /** Account `fromId` was merged into `into` (a late unionid): `fromId` no longer logs in. */
  usersMerged?(fromId: string, into: UserRecord): void | Promise<void>;
  /** The account was deleted (注销), once per deleted account (merged-away ones included). */
  userDeleted?(userId: string): void | Promise<void>;
}

/** The hooks and where their failures are logged; absent: no host table. */
export interface UserEvents {
  hooks: UserHooks;
  logger: Logger;
}

/** Calls one hook; its failure is logged, never thrown. */
export async function emitUserEvent<K extends keyof UserHooks>(events: UserEvents | undefined, name: K, ...args: Parameters<NonNullable<UserHooks[K]>>): Promise<void> {
  const hook = events?.hooks[name] as ((...a: unknown[]) => void | Promise<void>) | undefined;
  if (!hook) return;
  try {
    await hook.apply(events!.hooks, args);
  } catch (error) {
    events!.logger.log('error', 'user.hook_failed', { hook: name, error });
  }
}
