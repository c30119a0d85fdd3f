// useWluAuthStore: persisted with uni.setStorageSync, restored at start, profile skip remembered.
// Sessions only enter the store through its own actions (here: login and updateMe against a stub API).
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { AUTH_STORAGE_KEY, useWluAuthStore } from '../uni_modules/wlu-wxlogin/store/auth';
import { future, installUni, user } from './support/uni-stub';
import type { PublicUser } from '../../shared/api';

let uniStub: ReturnType<typeof installUni>;
beforeEach(() => {
  uniStub = installUni(() => ({ statusCode: 404 }));
  setActivePinia(createPinia());
});
afterEach(() => vi.unstubAllGlobals());

/** A login the stub API answers with this session (POST <basePath>/mini/login). */
function loggedIn(token: string, who: PublicUser, expiresAt = future()) {
  uniStub.handler = () => ({ statusCode: 200, data: { token, expiresAt, user: who, isNewUser: false } });
  return useWluAuthStore().login();
}

it('Should persist a new session and restore it in a fresh app', async () => {
  const expiresAt = future();
  await loggedIn('t-1', user('u-1'), expiresAt);
  expect(uniStub.storage.get(AUTH_STORAGE_KEY)).toEqual({ token: 't-1', expiresAt, user: user('u-1') });

  setActivePinia(createPinia()); // the next launch
  const auth = useWluAuthStore();
  expect(auth.isLoggedIn).toBe(true);
  expect(auth.token).toBe('t-1');
});

it('Should forget the session on clear()', async () => {
  await loggedIn('t-1', user());
  const auth = useWluAuthStore();
  auth.clear();
  expect(auth.isLoggedIn).toBe(false);
  expect(uniStub.storage.has(AUTH_STORAGE_KEY)).toBe(false);
});

it('Should ignore unreadable storage', () => {
  uniStub.storage.set(AUTH_STORAGE_KEY, '{not json');
  setActivePinia(createPinia());
  expect(useWluAuthStore().token).toBeNull();
});

it('Should remember a skipped profile page per user', async () => {
  await loggedIn('t-1', user('u-1'));
  const auth = useWluAuthStore();
  expect(auth.needsProfile).toBe(true);
  auth.skipProfile();
  expect(auth.needsProfile).toBe(false);
  setActivePinia(createPinia()); // remembered across launches
  expect(useWluAuthStore().needsProfile).toBe(false);

  await loggedIn('t-2', user('u-2'));
  const next = useWluAuthStore();
  expect(next.needsProfile).toBe(true);
  uniStub.handler = () => ({ statusCode: 200, data: { user: { ...user('u-2'), nickname: '小明', avatarUrl: '/api/auth/avatars/x.jpg', profileComplete: true } } });
  await next.updateMe({ nickname: '小明' });
  expect(next.needsProfile).toBe(false);
});
