/**
 * One compiled-page scenario per test file: builds dist/test/mp-weixin (configured with TEST_API_BASE) if missing or stale,
 * runs a private copy of it, and starts the real API + WeChat simulator (tests/support/stack.ts)
 * in a child process.
 */
import { afterAll, beforeAll } from 'vitest';
import { ensureMpBuild } from './build';
import { postJson, runnableCopy } from './mp';
import { startStackProcess, type StackHandle } from './stack-process';

export interface Scenario {
  stack: StackHandle;
  /** directory of the runnable copy of dist/test/mp-weixin */
  dist: string;
}

export function useScenario(): Scenario {
  const scenario = {} as Scenario;
  let bundle: ReturnType<typeof runnableCopy> | undefined;
  beforeAll(async () => {
    bundle = runnableCopy(await ensureMpBuild());
    scenario.dist = bundle.dir;
    scenario.stack = await startStackProcess();
  });
  afterAll(async () => {
    await scenario.stack?.close();
    bundle?.remove();
  });
  return scenario;
}

/** Logs `user` in directly at the API (a code from the simulator), as a returning visitor. */
export async function apiLogin(stack: StackHandle, user: string): Promise<{ token: string; expiresAt: string; user: any }> {
  const { body: codeBody } = await postJson(`${stack.simUrl}/__sim/mini/code`, { appid: stack.appid, user });
  const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: codeBody.code });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
