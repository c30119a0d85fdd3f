/** Typed API calls (all through request.ts). */
import type { MeResponse, PublicUser, UpdateMeRequest } from '../../shared/api';
import { useAuthStore } from '../stores/auth';
import { rawRequest, request, upload } from './request';

export async function fetchMe(): Promise<PublicUser> {
  const { user } = await request<MeResponse>({ path: '/api/me' });
  useAuthStore().setUser(user);
  return user;
}

export async function updateMe(patch: UpdateMeRequest): Promise<PublicUser> {
  const { user } = await request<MeResponse>({ method: 'PATCH', path: '/api/me', data: patch });
  useAuthStore().setUser(user);
  return user;
}

/**
 * Uploads a local image (chooseAvatar temp path). The API re-encodes it, stores it, sets it as
 * the user's avatar and answers with its URL (a path on the API origin) and the user.
 */
export async function uploadAvatar(filePath: string): Promise<PublicUser> {
  const { user } = await upload<{ avatarUrl: string; user: PublicUser }>('/api/me/avatar', filePath, 'file');
  useAuthStore().setUser(user);
  return user;
}

/** Revokes the session on the server (best effort) and forgets it locally. Never logs in. */
export async function logout(): Promise<void> {
  const auth = useAuthStore();
  const token = auth.token;
  auth.clear();
  if (!token) return;
  try {
    await rawRequest<void>({ method: 'POST', path: '/api/auth/logout', token });
  } catch {
    // offline or already revoked: the local session is gone either way
  }
}

/** Saves the phone number the person agreed to share (e.detail.code of open-type="getPhoneNumber"). */
export async function savePhone(code: string): Promise<PublicUser> {
  const { user } = await request<MeResponse>({ method: 'POST', path: '/api/me/phone', data: { code } });
  useAuthStore().setUser(user);
  return user;
}

/** 退出所有设备: ends every session of this account, this one included. */
export async function logoutEverywhere(): Promise<void> {
  await request<void>({ method: 'DELETE', path: '/api/sessions' });
  useAuthStore().clear();
}

/** 注销账号: deletes the account and everything the server keeps about it. */
export async function deleteAccount(): Promise<void> {
  await request<void>({ method: 'DELETE', path: '/api/me' });
  useAuthStore().clear();
}
