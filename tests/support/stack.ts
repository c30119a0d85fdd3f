import { EmbeddedStore } from '../../packages/server/src/store/embedded.js';
import { silentLogger } from '../../packages/server/src/log.js';
import { simCodeAt } from './sim-server.js';
import { startStack as start, type Stack, type StackOptions } from '../../scripts/lib/stack.js';

export type { Stack };

/**
 * A real API + WeChat simulator on random ports with an in-memory store, for tests. A website app
 * (QR login) and an official account (web authorization) are registered under the mini-program's
 * open platform unless `web: false` / `oa: false`.
 */
export function startStack(options: StackOptions = {}): Promise<Stack> {
  return start({
    web: true,
    oa: true,
    ...options,
    // Suites log in hundreds of times from 127.0.0.1; tests/limits.test.ts checks the real limits.
    env: { NODE_ENV: 'test', RATE_LIMIT_PER_ADDRESS: '1000000', RATE_LIMIT_PER_APPID: '1000000', ...options.env },
    overrides: { store: new EmbeddedStore({ dir: null }), logger: silentLogger, ...options.overrides },
  });
}

/** wx.login on a simulated phone: asks the simulator for a fresh code. */
export function simCode(stack: Stack, user: string): Promise<string> {
  return simCodeAt(stack.simUrl, stack.appid, user);
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}
