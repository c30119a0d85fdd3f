// useWluAuthStore: persisted with uni.setStorageSync, restored at start, profile skip remembered.
// Sessions only enter the store through its own actions (here: login and updateMe against a stub API).
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('the doors the server lists (GET <basePath>/doors)', () => {
  const listed = { doors: [{ name: 'mini', kind: 'mini', appid: 'wx0000000000000001' }, { name: 'oa', kind: 'oa', appid: 'wx0000000000000003' }] };
  const doorsCalls = () => uniStub.request.mock.calls.filter(([opts]) => (opts as { url: string }).url.endsWith('/api/auth/doors')).length;

  it('Should ask once per app start and keep the answer (a second login page asks nothing)', async () => {
    uniStub.handler = (req) => (req.url === '/api/auth/doors' ? { statusCode: 200, data: listed } : { statusCode: 404 });
    const auth = useWluAuthStore();
    expect(auth.offered).toBeNull(); // not asked yet: no door shown
    const first = auth.loadDoors();
    expect(auth.offered).toBeNull(); // pending: still none
    await Promise.all([first, auth.loadDoors()]);
    await auth.loadDoors();
    expect(doorsCalls()).toBe(1);
    expect(auth.offered).toEqual({ web: false, oa: true, oaFollow: false, pc: false, mini: true });
    expect(auth.doorsError).toBe('');

    setActivePinia(createPinia()); // the next app start asks again
    await useWluAuthStore().loadDoors();
    expect(doorsCalls()).toBe(2);
  });

  it('Should fall back to the host\'s doors and say 网络不可用，请重试 when the request fails, and ask again next time', async () => {
    uniStub.handler = () => 'network_error';
    const auth = useWluAuthStore();
    auth.configure({ doors: 'oa,oa-follow' });
    await auth.loadDoors();
    expect(auth.offered).toEqual({ web: false, oa: true, oaFollow: true, pc: false, mini: true });
    expect(auth.doorsError).toBe('网络不可用，请重试');

    uniStub.handler = (req) => (req.url === '/api/auth/doors' ? { statusCode: 200, data: listed } : { statusCode: 404 });
    await auth.loadDoors();
    expect(auth.offered).toEqual({ web: false, oa: true, oaFollow: false, pc: false, mini: true });
    expect(auth.doorsError).toBe('');
  });

  it('Should fall back silently when the server has no such endpoint (an older server answers 404)', async () => {
    uniStub.handler = () => ({ statusCode: 404, data: { error: { code: 'not_found', message: '接口不存在' } } });
    const auth = useWluAuthStore();
    await auth.loadDoors();
    expect(auth.offered).toEqual({ web: true, oa: true, oaFollow: false, pc: false, mini: true });
    expect(auth.doorsError).toBe('');
  });
});
