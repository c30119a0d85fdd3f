// `npm run dev` is ONE command: API + the WeChat simulator (+ H5, left out here with --no-h5), no
// account. The simulator runs as a host runs it: the `wlu-wxlogin-sim` bin, its own node process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { simBinPath } from '../scripts/lib/sim-bin.js';

const ROOT = resolve(import.meta.dirname, '..');
// npm run dev as a newcomer runs it: the embedded store, no MONGODB_URI
const { MONGODB_URI: _mongo, ...baseEnv } = process.env;
const dataDir = mkdtempSync(join(tmpdir(), 'dev-stack-'));
let dev: ChildProcess;
let banner = '';
let apiUrl: string;
let simUrl: string;

const post = async (url: string, body: unknown) =>
  (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<Record<string, any>>;

/** The command lines of `pid`'s child processes (Linux /proc). */
function childCommands(pid: number): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid ? [readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ')] : [];
      } catch {
        return [];
      }
    });
}

beforeAll(async () => {
  dev = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts', '--no-h5'], {
    cwd: ROOT,
    env: { ...baseEnv, DATA_DIR: dataDir, PORT: '0', WECHAT_SIM_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error', WECHAT_SIM_OA_TYPE: 'subscription' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  dev.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((done, reject) => {
    dev.stdout!.on('data', (d) => {
      banner += d;
      if (banner.includes('获取登录 code')) done();
    });
    dev.on('close', (code) => reject(new Error(`npm run dev exited ${code}: ${err}`)));
  });
  apiUrl = banner.match(/API\s+(http:\/\/[\d.:]+)/)![1]!;
  simUrl = banner.match(/WeChat 模拟器\s+(http:\/\/[\d.:]+)/)![1]!;
}, 120_000);
afterAll(() => {
  dev?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm run dev', () => {
  it('runs the simulator through the package bin, as its own process', () => {
    const commands = childCommands(dev.pid!);
    expect(commands.filter((c) => c.includes(simBinPath()))).toHaveLength(1);
    expect(commands.find((c) => c.includes(simBinPath()))).toContain(`--oa-type subscription`);
  });

  it('the API it starts logs a mini-program user in with a simulator code', async () => {
    const appid = banner.match(/mini-program appid (wx[0-9a-f]{16})/)![1]!;
    const { code } = await post(`${simUrl}/__sim/mini/code`, { appid, user: 'dev-alice' });
    const login = await post(`${apiUrl}/api/auth/mini/login`, { code });
    expect(login).toMatchObject({ isNewUser: true });
    expect(login.user?.id).toBeTruthy();
    const me = await fetch(`${apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${login.token}` } });
    expect(me.status).toBe(200);
  });

  it('WECHAT_SIM_OA_TYPE reaches the simulator: a subscription account gets 48001 from qrcode/create', async () => {
    const oaAppid = banner.match(/official-account appid (wx[0-9a-f]{16})/)![1]!;
    const secret = readFileSync(join(dataDir, 'sim-oa-secret'), 'utf8').trim();
    const { access_token } = JSON.parse(await (await fetch(`${simUrl}/cgi-bin/token?grant_type=client_credential&appid=${oaAppid}&secret=${secret}`)).text());
    const res = await post(`${simUrl}/cgi-bin/qrcode/create?access_token=${access_token}`, { action_name: 'QR_STR_SCENE', expire_seconds: 60, action_info: { scene: { scene_str: 'd1' } } });
    expect(res.errcode).toBe(48001);
  });

  it('an unknown WECHAT_SIM_OA_TYPE stops it with the types the simulator takes', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dev.ts', '--no-h5'], {
      cwd: ROOT,
      env: { ...baseEnv, DATA_DIR: dataDir, PORT: '0', WECHAT_SIM_PORT: '0', LOG_LEVEL: 'error', WECHAT_SIM_OA_TYPE: 'enterprise' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('WECHAT_SIM_OA_TYPE');
    expect(res.stderr).toContain('verified-service, unverified-service, subscription');
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('stopping it stops the simulator process too', async () => {
    const exited = new Promise((r) => dev.once('close', r));
    dev.kill('SIGTERM');
    await exited;
    // the simulator's own process exits on its parent's signal: wait (bounded, generous) until it no longer answers
    await vi.waitFor(() => expect(fetch(`${simUrl}/__sim/health`)).rejects.toThrow(), { timeout: 15_000, interval: 100 });
  });
});
