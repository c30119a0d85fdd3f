/**
 * A stubbed `uni` global for the request module and store tests: in-memory storage, a
 * controllable uni.login, and uni.request answered by a route table (async, like the real one).
 */
import { vi } from 'vitest';
import type { PublicUser } from '../../../shared/api';

export interface StubResponse {
  statusCode: number;
  data?: unknown;
  /** response headers (uni.request's res.header) */
  header?: Record<string, string>;
}

export type Handler = (req: { method: string; url: string; header: Record<string, string>; data: unknown }) =>
  | StubResponse
  | 'hang'
  | 'network_error'
  | Promise<StubResponse | 'hang' | 'network_error'>;

export function installUni(handler: Handler) {
  const storage = new Map<string, unknown>();
  let codes = 0;
  const stub = {
    storage,
    handler,
    // like wx storage: values are stored as JSON
    getStorageSync: vi.fn((key: string) => (storage.has(key) ? JSON.parse(JSON.stringify(storage.get(key))) : '')),
    setStorageSync: vi.fn((key: string, value: unknown) => void storage.set(key, JSON.parse(JSON.stringify(value)))),
    removeStorageSync: vi.fn((key: string) => void storage.delete(key)),
    login: vi.fn((opts: { success?: (r: unknown) => void; fail?: (e: unknown) => void }) => {
      setTimeout(() => opts.success?.({ code: `code-${++codes}`, errMsg: 'login:ok' }), 1);
    }),
    reLaunch: vi.fn(),
    navigateTo: vi.fn(),
    aborted: 0,
    request: vi.fn((opts: any) => {
      const req = { method: opts.method ?? 'GET', url: opts.url, header: opts.header ?? {}, data: opts.data };
      setTimeout(async () => {
        const res = await stub.handler(req);
        if (res === 'hang') return;
        if (res === 'network_error') opts.fail?.({ errMsg: 'request:fail errcode:-101 cronet_error_code:-101' });
        else opts.success?.({ statusCode: res.statusCode, data: res.data ?? '', header: res.header ?? {}, errMsg: 'request:ok' });
      }, 1);
      return { abort: () => void stub.aborted++ };
    }),
  };
  vi.stubGlobal('uni', stub);
  return stub;
}

/** The API's error envelope. */
export const envelope = (code: string, message = code) => ({ error: { code, message } });

export const user = (id = 'u1'): PublicUser => ({
  id,
  nickname: null,
  avatarUrl: null,
  profileComplete: false,
  phoneMasked: null,
  createdAt: '2026-01-01T00:00:00.000Z',
});

export const future = () => new Date(Date.now() + 3600_000).toISOString();
