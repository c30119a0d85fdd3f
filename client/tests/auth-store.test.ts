// useAuthStore: persisted with uni.setStorageSync, restored at start, profile skip remembered.
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { AUTH_STORAGE_KEY, useAuthStore } from '../stores/auth';
import { future, installUni, user } from './support/uni-stub';

let uniStub: ReturnType<typeof installUni>;
beforeEach(() => {
  uniStub = installUni(() => ({ statusCode: 404 }));
  setActivePinia(createPinia());
});
afterEach(() => vi.unstubAllGlobals());

it('Should persist a new session and restore it in a fresh app', () => {
  const expiresAt = future();
  useAuthStore().setSession({ token: 't-1', expiresAt, user: user('u-1') });
  expect(uniStub.storage.get(AUTH_STORAGE_KEY)).toEqual({ token: 't-1', expiresAt, user: user('u-1') });

  setActivePinia(createPinia()); // the next launch
  const auth = useAuthStore();
  expect(auth.isLoggedIn).toBe(true);
  expect(auth.token).toBe('t-1');
});

it('Should forget the session on clear()', () => {
  const auth = useAuthStore();
  auth.setSession({ token: 't-1', expiresAt: future(), user: user() });
  auth.clear();
  expect(auth.isLoggedIn).toBe(false);
  expect(uniStub.storage.has(AUTH_STORAGE_KEY)).toBe(false);
});

it('Should ignore unreadable storage', () => {
  uniStub.storage.set(AUTH_STORAGE_KEY, '{not json');
  setActivePinia(createPinia());
  expect(useAuthStore().token).toBeNull();
});

it('Should remember a skipped profile page per user', () => {
  const auth = useAuthStore();
  auth.setSession({ token: 't-1', expiresAt: future(), user: user('u-1') });
  expect(auth.needsProfile).toBe(true);
  auth.skipProfile();
  expect(auth.needsProfile).toBe(false);
  setActivePinia(createPinia()); // remembered across launches
  expect(useAuthStore().needsProfile).toBe(false);

  const next = useAuthStore();
  next.setSession({ token: 't-2', expiresAt: future(), user: user('u-2') });
  expect(next.needsProfile).toBe(true);
  next.setUser({ ...user('u-2'), nickname: '小明', avatarUrl: '/api/auth/avatars/x.jpg', profileComplete: true });
  expect(next.needsProfile).toBe(false);
});
