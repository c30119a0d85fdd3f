import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runDeployChecks } from '../scripts/lib/deploy-check.js';
import { startStack, type Stack } from './support/stack.js';

/**
 * "Fail the deploy, not the users" (issue 12). vercel.json's buildCommand runs `npm run
 * check:deploy` before building, for Production and Preview (Vercel sets VERCEL=1 and VERCEL_ENV
 * during builds): a non-zero exit fails the deployment. These tests run the script as that build
 * step does — a child process with only the deployment's environment.
 */
/** the test MongoDB (tests/setup/global.ts); '' with SKIP_MONGO=1, and then the tests that need it skip */
const uri = inject('mongodbUri');
const db = `h6_deploy_check_${process.pid}`;
const secret = '0123456789abcdef0123456789abcdef';
const production = {
  VERCEL: '1',
  VERCEL_ENV: 'production',
  WECHAT_MINI_APPID: 'wx0123456789abcdef',
  WECHAT_MINI_SECRET: secret,
  MONGODB_URI: uri,
  MONGODB_DB: db,
  SESSION_KEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
};

function run(script: string, env: Record<string, string>) {
  const res = spawnSync('npx', ['tsx', script], {
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: res.status, out: `${res.stdout}\n${res.stderr}` };
}
const check = (env: Record<string, string>) => run('scripts/deploy-check.ts', env);

afterAll(async () => {
  if (!uri) return;
  const client = new MongoClient(uri);
  await client.db(db).dropDatabase().catch(() => {});
  await client.db(`${db}_doctor`).dropDatabase().catch(() => {});
  await client.close();
});

describe('the Vercel build step runs the deploy check', () => {
  it('vercel.json builds only after `npm run check:deploy` succeeded', () => {
    const vercel = JSON.parse(readFileSync('vercel.json', 'utf8'));
    expect(vercel.buildCommand).toMatch(/^npm run check:deploy && /);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts['check:deploy']).toBe('tsx scripts/deploy-check.ts');
  });

  it.skipIf(!uri)('an unmigrated database fails the deployment, naming the missing indexes and the fix; after `npm run migrate` it passes', () => {
    const before = check(production);
    expect(before.code).toBe(1);
    expect(before.out).toContain('DEPLOYMENT CHECK FAILED');
    expect(before.out).toMatch(/lacks 6 index\(es\): sessions \{"userId":1\}/);
    expect(before.out).toContain('npm run migrate');
    expect(before.out).toContain('Production environment variables');

    const migrate = run('scripts/migrate.ts', { MONGODB_URI: uri, MONGODB_DB: db });
    expect(migrate.code, migrate.out).toBe(0);
    const after = check(production);
    expect(after.code, after.out).toBe(0);
    expect(after.out).toContain('MongoDB indexes are in place');
    expect(after.out).toContain('deploy check passed (production)');
    expect(after.out).not.toContain(secret);
  });

  it('a bad key fails it, with every problem listed and no secret printed', () => {
    const wrong = 'f'.repeat(31);
    const res = check({ ...production, WECHAT_MINI_SECRET: wrong, SESSION_KEY_ENCRYPTION_KEYS: 'k1:dG9vLXNob3J0' });
    expect(res.code).toBe(1);
    expect(res.out).toContain('WECHAT_MINI_SECRET is missing or not a 32-character AppSecret');
    expect(res.out).toContain('SESSION_KEY_ENCRYPTION_KEYS does not parse');
    expect(res.out).not.toContain(wrong);
  });

  it('an unreachable MongoDB fails it, without the password from the URI', () => {
    const res = check({ ...production, MONGODB_URI: 'mongodb://app:hunter2secret@127.0.0.1:1/?serverSelectionTimeoutMS=300' });
    expect(res.code).toBe(1);
    expect(res.out).toContain('MongoDB at 127.0.0.1:1 is unreachable');
    expect(res.out).not.toContain('hunter2secret');
  });

  it('a preview without a database fails like production; an opted-in ephemeral preview passes and says it is throwaway', () => {
    const { MONGODB_URI: _u, MONGODB_DB: _d, SESSION_KEY_ENCRYPTION_KEYS: _k, ...keysOnly } = production;
    const refused = check({ ...keysOnly, VERCEL_ENV: 'preview' });
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('ALLOW_EPHEMERAL_PREVIEW=1');
    expect(refused.out).toContain('Preview environment variables');
    const ephemeral = check({ ...keysOnly, VERCEL_ENV: 'preview', ALLOW_EPHEMERAL_PREVIEW: '1' });
    expect(ephemeral.code, ephemeral.out).toBe(0);
    expect(ephemeral.out).toContain('throwaway /tmp embedded store');
  });

  it.skipIf(!uri)("the doctor's reachability probe: an unreachable MongoDB and missing indexes are reported (exit 1)", () => {
    const down = run('scripts/doctor.ts', { MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300' });
    expect(down.code).toBe(1);
    expect(down.out).toContain('Reachability:');
    expect(down.out).toContain('MongoDB at 127.0.0.1:1 is unreachable');
    const fresh = run('scripts/doctor.ts', { MONGODB_URI: uri, MONGODB_DB: `${db}_doctor` });
    expect(fresh.code).toBe(1);
    expect(fresh.out).toMatch(/✓ MongoDB at .* answers/);
    expect(fresh.out).toContain('npm run migrate');
  });

  it('a local `vercel build` (no VERCEL_ENV) is not a deployment: skipped, said so', () => {
    const res = check({ VERCEL: '1', MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300' });
    expect(res.code).toBe(0);
    expect(res.out).toContain('deploy check: skipped');
    expect(res.out).not.toContain('MongoDB');
  });
});

describe('the optional stable_token call (wechat-api-facts.md §6: normal mode never invalidates the current token)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());
  /** WeChat's hosts answered by the simulator. */
  const viaSimulator = (): typeof fetch => (input, init) => fetch(String(input).replace('https://api.weixin.qq.com', stack.simUrl), init);

  it('passes when WeChat accepts the AppID and AppSecret, and fails the deployment when it does not', async () => {
    const env = { ...production, VERCEL_ENV: 'preview', MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200', WECHAT_MINI_APPID: stack.appid };
    const good = await runDeployChecks({ ...env, WECHAT_MINI_SECRET: stack.services.config.mini.secret, MONGODB_URI: '', ALLOW_EPHEMERAL_PREVIEW: '1', SESSION_KEY_ENCRYPTION_KEYS: '' }, { wechat: true, fetch: viaSimulator() });
    expect(good.lines.find((l) => l.text.startsWith('WeChat accepts'))?.status).toBe('ok');
    expect(good.ok).toBe(true);

    const wrong = 'e'.repeat(32);
    const bad = await runDeployChecks({ ...env, WECHAT_MINI_SECRET: wrong, MONGODB_URI: '', ALLOW_EPHEMERAL_PREVIEW: '1', SESSION_KEY_ENCRYPTION_KEYS: '' }, { wechat: true, fetch: viaSimulator() });
    expect(bad.ok).toBe(false);
    const line = bad.lines.find((l) => l.status === 'fail')!;
    expect(line.text).toContain('errcode 40125');
    expect(line.text).toContain('WECHAT_MINI_APPID/WECHAT_MINI_SECRET are wrong');
    expect(JSON.stringify(bad)).not.toContain(wrong);
  });
});
