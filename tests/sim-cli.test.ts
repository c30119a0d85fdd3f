// The simulator as a host runs it: the `wlu-wxlogin-sim` bin of packages/sim, built JavaScript run by
// plain node (no tsx), on a free port. What it prints is all a server needs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../api/_host.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { silentLogger } from '../packages/server/src/log.js';
import { ensureSimBuilt } from '../scripts/lib/sim-bin.js';

const MINI = { appid: 'wx0123456789abcdef', secret: 'cli5ecret' };
const OA = { appid: 'wx0123456789abcdf0', secret: 'oa5ecret' };
let bin: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  bin = ensureSimBuilt();
}, 120_000);
afterAll(() => children.forEach((c) => c.kill('SIGTERM')));

/** Runs the bin until it prints its first block of output (it keeps serving); resolves with that text. */
function startBin(args: string[]): Promise<{ out: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((done, reject) => {
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      if (/Stop: Ctrl\+C|\}\n/.test(out)) done({ out, child });
    });
    child.on('close', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

const post = async (url: string, body: unknown) =>
  (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<Record<string, any>>;
const wx = async (url: string) => JSON.parse(await (await fetch(url)).text()) as Record<string, any>;

describe('npx wlu-wxlogin-sim', () => {
  it('prints the WeChat bases a server must set and the apps it accepts, then answers as WeChat', async () => {
    const { out } = await startBin(['--port', '0', '--app', `mini:${MINI.appid}:${MINI.secret}`, '--app', `oa:${OA.appid}:${OA.secret}`]);
    const url = out.match(/listening \/ 监听\s+(http:\/\/127\.0\.0\.1:\d+)/)![1]!;
    expect(url).not.toMatch(/:0$/);
    for (const name of ['WECHAT_API_BASE', 'WECHAT_OPEN_BASE', 'WECHAT_MP_BASE']) expect(out).toContain(`${name}=${url}`);
    expect(out).toContain('wechat.apiBase');
    expect(out).toContain(`WECHAT_MINI_APPID=${MINI.appid} WECHAT_MINI_SECRET=${MINI.secret}`);
    expect(out).toContain(`WECHAT_OA_APPID=${OA.appid} WECHAT_OA_SECRET=${OA.secret}`);
    expect(out).toMatch(/never production/);
    // the round trip a server makes: a simulator code (wx.login) → jscode2session
    const { code } = await post(`${url}/__sim/mini/code`, { appid: MINI.appid, user: 'cli-alice' });
    const session = await wx(`${url}/sns/jscode2session?appid=${MINI.appid}&secret=${MINI.secret}&js_code=${code}&grant_type=authorization_code`);
    expect(session.openid).toMatch(/^o/);
    expect(typeof session.session_key).toBe('string');
    expect(session.unionid).toBeTruthy(); // bound to the default open platform
    expect((await wx(`${url}/sns/jscode2session?appid=${MINI.appid}&secret=${MINI.secret}&js_code=${code}&grant_type=authorization_code`)).errcode).toBe(40163);
    expect((await wx(`${url}/sns/jscode2session?appid=${MINI.appid}&secret=wrong&js_code=x&grant_type=authorization_code`)).errcode).toBe(40125);
  });

  it('--json: the printed env is enough for the server package: a mini-program login through it', async () => {
    const { out } = await startBin(['--port', '0', '--json', '--app', `mini:${MINI.appid}:${MINI.secret}`, '--open-platform', 'none']);
    const info = JSON.parse(out) as { url: string; env: Record<string, string>; apps: { secret: string }[] };
    expect(info.env).toEqual({
      WECHAT_API_BASE: info.url,
      WECHAT_OPEN_BASE: info.url,
      WECHAT_MP_BASE: info.url,
      WECHAT_MINI_APPID: MINI.appid,
      WECHAT_MINI_SECRET: MINI.secret,
    });
    const services = createServices(optionsFromEnv({ NODE_ENV: 'test', WECHAT_API_FAILOVER: '', ...info.env }), { store: new EmbeddedStore({ dir: null }), logger: silentLogger });
    try {
      const { code } = await post(`${info.url}/__sim/mini/code`, { appid: MINI.appid, user: 'cli-bob' });
      const res = await services.app.fetch(new Request('http://api.test/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) }));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { token: string; isNewUser: boolean };
      expect(body.isNewUser).toBe(true);
      expect(typeof body.token).toBe('string');
    } finally {
      services.stop();
    }
  });

  it('--oa-type subscription: the official account cannot make parametric QR codes (48001), as WeChat answers', async () => {
    const { out } = await startBin(['--port', '0', '--json', '--app', `oa:${OA.appid}:${OA.secret}`, '--oa-type', 'subscription']);
    const { url } = JSON.parse(out) as { url: string };
    const { access_token } = await wx(`${url}/cgi-bin/token?grant_type=client_credential&appid=${OA.appid}&secret=${OA.secret}`);
    const res = await post(`${url}/cgi-bin/qrcode/create?access_token=${access_token}`, { action_name: 'QR_STR_SCENE', expire_seconds: 60, action_info: { scene: { scene_str: 's1' } } });
    expect(res.errcode).toBe(48001);
  });

  it('--seed keeps openids across restarts, --domain is the website app\'s 授权回调域, --public-url is what browsers get', async () => {
    const WEB = 'wx0123456789abcdf1';
    const openidOf = async (args: string[]) => {
      const { out, child } = await startBin(['--port', '0', '--json', '--app', `mini:${MINI.appid}:${MINI.secret}`, ...args]);
      const info = JSON.parse(out) as { url: string; bases: { apiBase: string; openBase: string } };
      const { code } = await post(`${info.url}/__sim/mini/code`, { appid: MINI.appid, user: 'seeded' });
      const { openid } = await wx(`${info.url}/sns/jscode2session?appid=${MINI.appid}&secret=${MINI.secret}&js_code=${code}&grant_type=authorization_code`);
      child.kill('SIGTERM');
      return { openid: openid as string, info };
    };
    const first = await openidOf(['--seed', 'cli-seed']);
    expect((await openidOf(['--seed', 'cli-seed'])).openid).toBe(first.openid);
    expect((await openidOf(['--seed', 'other-seed'])).openid).not.toBe(first.openid);

    const { out } = await startBin(['--port', '0', '--json', '--app', `web:${WEB}:w`, '--domain', 'app.example.test', '--public-url', 'http://192.168.1.20:3100/']);
    const info = JSON.parse(out) as { url: string; bases: { apiBase: string; openBase: string; mpBase: string }; apps: { domains: string[] }[] };
    expect(info.bases).toEqual({ apiBase: info.url, openBase: 'http://192.168.1.20:3100', mpBase: info.url });
    expect(info.apps[0]!.domains).toEqual(['app.example.test']);
    const qr = (redirect: string) => fetch(`${info.url}/connect/qrconnect?appid=${WEB}&redirect_uri=${encodeURIComponent(redirect)}&response_type=code&scope=snsapi_login&state=s1`);
    expect((await qr('http://app.example.test/cb')).status).toBe(200);
    const refused = await qr('http://127.0.0.1/cb');
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('该链接无法访问');
  });

  it('--help lists every flag; --version prints the package version', () => {
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const flag of ['--port', '--host', '--app', '--open-platform', '--domain', '--oa-type', '--seed', '--public-url', '--latency-ms', '--json', '--version', '--help']) expect(help.stdout).toContain(flag);
    expect(help.stdout).toContain('WECHAT_API_BASE');
    const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--port', 'abc'], /--port "abc": expected a port number/],
    [['--app', 'mini:notanappid'], /an AppID is "wx" and 16 hex digits/],
    [['--app', 'web:wxNOTHEX:Top5ecretValue'], /--app "web:wxNOTHEX:<secret>": an AppID is/],
    [['--app', 'mini:wx0123456789abcdef:bad!secret'], /--app "mini:wx0123456789abcdef:<secret>": the secret may only/],
    [['--app', 'game:wx0123456789abcdef'], /kind mini, web or oa/],
    [['--oa-type', 'enterprise'], /--oa-type "enterprise": expected one of verified-service/],
    [['--app', `mini:${MINI.appid}`, '--app', `mini:${MINI.appid}`], /listed twice/],
  ])('a bad command line %j is a clear error, exit code 2, nothing started', (args, message) => {
    const res = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 10_000 });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(res.stderr).toContain('--help');
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(res.stdout).toBe('');
    expect(res.stderr).not.toMatch(/Top5ecretValue|bad!secret/); // a secret never reaches a log line
  });

  it('a busy port names itself and --port, exit code 1', async () => {
    const { out } = await startBin(['--port', '0', '--json']);
    const port = new URL((JSON.parse(out) as { url: string }).url).port;
    const res = spawnSync(process.execPath, [bin, '--port', port], { encoding: 'utf8', timeout: 10_000 });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(`port ${port} is already in use`);
    expect(res.stderr).toContain('--port <n>');
    expect(res.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);
  });
});
