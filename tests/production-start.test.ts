import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';

/**
 * The mainland shape (docs/DEPLOY.md, shape B): `npm start` with production settings against
 * MongoDB on a mainland host, started the way an operator runs it — `npm run migrate`, `npm run
 * check:deploy`, then `npm start` with NODE_ENV=production — and stopped with SIGTERM (systemd).
 * No simulator: production refuses any WeChat host but WeChat's, and nothing here calls WeChat.
 */
/** the test MongoDB (tests/setup/global.ts); '' with SKIP_MONGO=1, and then these tests skip */
const uri = inject('mongodbUri');
const db = `h6_prod_start_${process.pid}`;
const env = {
  PATH: process.env.PATH!,
  HOME: process.env.HOME ?? '/tmp',
  NODE_ENV: 'production',
  WECHAT_MINI_APPID: 'wx0123456789abcdef',
  WECHAT_MINI_SECRET: '0123456789abcdef0123456789abcdef',
  MONGODB_URI: uri,
  MONGODB_DB: db,
  SESSION_KEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
  WECHAT_MP_VERIFY: 'MP_verify_Q1w2E3r4T5y6U7i8.txt',
  PORT: '0',
  HOST: '127.0.0.1',
};
let server: ChildProcess | undefined;

afterAll(async () => {
  if (server?.pid && server.exitCode === null) process.kill(-server.pid, 'SIGKILL');
  if (!uri) return;
  const client = new MongoClient(uri);
  await client.db(db).dropDatabase().catch(() => {});
  await client.close();
});

const npm = (script: string, extra: Record<string, string> = {}) =>
  spawnSync('npm', ['run', '-s', script], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });

/** Starts `npm start` and resolves with its URL from the `server.listening` log line. */
function start(extra: Record<string, string | undefined> = {}): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  // Its own process group, like a systemd unit's cgroup: stopping signals every process in it.
  const child = spawn('npm', ['start', '-s'], { env: { ...env, ...extra } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen within 30 s:\n${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes('"server.listening"'));
      if (line) {
        clearTimeout(timer);
        resolve({ url: JSON.parse(line).url, child, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`npm start exited with ${code}`), { output: out, code }));
    });
  });
}

describe.skipIf(!uri)('npm start in production (the mainland-host shape)', () => {
  it('refuses to start without MongoDB and seal keys, saying why', async () => {
    const error = (await start({ MONGODB_URI: '', SESSION_KEY_ENCRYPTION_KEYS: '' }).then(
      (s) => {
        process.kill(-s.child.pid!, 'SIGKILL');
        return null;
      },
      (e) => e,
    )) as { output: string; code: number } | null;
    expect(error).not.toBeNull();
    expect(error!.code).not.toBe(0);
    expect(error!.output).toContain('Refusing to start in production');
    expect(error!.output).toContain('MONGODB_URI');
  });

  it('migrate → check:deploy → start: serves health, the MP_verify file and request ids from MongoDB; SIGTERM stops it cleanly', async () => {
    const migrate = npm('migrate');
    expect(migrate.status, migrate.stderr).toBe(0);
    const check = npm('check:deploy');
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    expect(check.stdout).toContain('deploy check passed (production)');

    const started = await start();
    server = started.child;
    const health = await fetch(`${started.url}/api/auth/health`);
    expect(await health.json()).toMatchObject({ ok: true, store: 'mongodb', environment: 'production', ephemeral: false });
    const verify = await fetch(`${started.url}/MP_verify_Q1w2E3r4T5y6U7i8.txt`);
    expect(await verify.text()).toBe('Q1w2E3r4T5y6U7i8');
    const missing = await fetch(`${started.url}/api/auth/me`);
    expect(missing.status).toBe(401);
    const body = await missing.json();
    expect(body.error.requestId).toBe(missing.headers.get('x-request-id'));

    // Logs are one JSON object per line (stdout/stderr → journald), never the AppSecret.
    const logs = started.output().split('\n').filter((l) => l.startsWith('{'));
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) expect(() => JSON.parse(line)).not.toThrow();
    expect(started.output()).not.toContain(env.WECHAT_MINI_SECRET);

    // systemd stops a unit by sending SIGTERM to every process of its cgroup (KillMode=control-group):
    // the server closes its port and MongoDB pool and exits 0. (SIGTERM to npm alone is not passed
    // on through npm's `sh -c`: docs/DEPLOY.md says to run under systemd or an init, see "npm start".)
    const exit = new Promise<{ code: number | null; signal: string | null }>((r) => started.child.once('exit', (code, signal) => r({ code, signal })));
    process.kill(-started.child.pid!, 'SIGTERM');
    const { code, signal } = await exit;
    expect(code === 0 || signal === 'SIGTERM', `code ${code}, signal ${signal}`).toBe(true);
    // npm (the group leader) can exit a moment before the server process behind it has closed its
    // port (it drains the MongoDB pool first): the port is closed soon after, not necessarily at once
    await vi.waitFor(() => expect(fetch(`${started.url}/api/auth/health`)).rejects.toThrow(), { timeout: 5_000, interval: 100 });
  });
});
