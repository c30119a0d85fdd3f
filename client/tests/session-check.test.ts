// uni.checkSession at start: an expired WeChat login state means one silent login, so the
// server's session_key stays current; a valid one, or being logged out, means no login at all.
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { AUTH_STORAGE_KEY, useWluAuthStore } from '../uni_modules/wlu-wxlogin/store/auth';
import { future, installUni, user } from './support/uni-stub';

const BASE = 'https://api.example.test';
let logins = 0;
let stub: ReturnType<typeof installUni> & { checkSession?: unknown };

beforeEach(() => {
  logins = 0;
  vi.stubEnv('UNI_PLATFORM', 'mp-weixin');
  stub = installUni((req) => {
    if (req.url === `${BASE}/api/auth/mini/login`) {
      logins++;
      return { statusCode: 200, data: { token: `tok-${logins}`, expiresAt: future(), user: user(), isNewUser: false } };
    }
    return { statusCode: 404 };
  });
  setActivePinia(createPinia());
  useWluAuthStore().configure({ apiBase: BASE });
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

const checkSession = (ok: boolean) =>
  ((stub as unknown as { checkSession: unknown }).checkSession = vi.fn((opts: { success?: () => void; fail?: () => void }) => setTimeout(() => (ok ? opts.success?.() : opts.fail?.()), 1)));

it('Should log in again silently when WeChat\'s login state has expired', async () => {
  stub.storage.set(AUTH_STORAGE_KEY, { token: 'old', expiresAt: future(), user: user() }); // logged in before
  useWluAuthStore().restore();
  checkSession(false);
  await useWluAuthStore().refreshWechatSession();
  expect(logins).toBe(1);
  expect(stub.login).toHaveBeenCalledTimes(1); // one wx.login for the failed checkSession, not two
  expect(useWluAuthStore().token).toBe('tok-1');
});

it('Should do nothing while WeChat\'s login state is valid', async () => {
  stub.storage.set(AUTH_STORAGE_KEY, { token: 'old', expiresAt: future(), user: user() }); // logged in before
  useWluAuthStore().restore();
  const check = checkSession(true);
  await useWluAuthStore().refreshWechatSession();
  expect(check).toHaveBeenCalledTimes(1);
  expect(logins).toBe(0);
  expect(stub.login).not.toHaveBeenCalled(); // a cold start of a logged-in person costs no wx.login
  expect(useWluAuthStore().token).toBe('old');
});

it('Should not log anyone in who is logged out', async () => {
  const check = checkSession(false);
  await useWluAuthStore().refreshWechatSession();
  expect(check).not.toHaveBeenCalled();
  expect(logins).toBe(0);
});
