// `npm run dev`: WeChat simulator + API + H5 dev server, embedded store, no account needed.
// The simulator runs as a host runs it: the `wlu-wxlogin-sim` bin (packages/sim), its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PortInUseError, stackDomains, startDevStack } from './lib/stack.js';

const dataDir = process.env.DATA_DIR ?? '.data';
mkdirSync(dataDir, { recursive: true });

/** Values the simulator and API must agree on across restarts (not secrets: the simulator is local). */
function persisted(name: string, make: () => string): string {
  const file = join(dataDir, name);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const value = make();
    writeFileSync(file, value, { mode: 0o600 });
    return value;
  }
}

const apiPort = Number(process.env.PORT ?? 3000);
const simPort = Number(process.env.WECHAT_SIM_PORT ?? 3100);
const host = process.env.HOST ?? '127.0.0.1';

const stack = await startDevStack({
  apiPort,
  simPort,
  host,
  simSeed: persisted('sim-seed', () => randomBytes(16).toString('hex')),
  // 公众号类型 of the simulated official account (docs/SIMULATOR.md): WECHAT_SIM_OA_TYPE=unverified-service or
  // subscription makes qrcode/create answer 48001 as WeChat does — follow-to-login then shows our own QR.
  oaType: process.env.WECHAT_SIM_OA_TYPE || undefined,
  // 授权回调域 / 网页授权域名 of the simulated apps: the stack's own hosts, plus WECHAT_SIM_DOMAINS
  // (comma-separated, e.g. a LAN IP a phone opens the H5 dev server on).
  domains: [...stackDomains(host, process.env.PUBLIC_BASE_URL), ...(process.env.WECHAT_SIM_DOMAINS ?? '').split(',').map((d) => d.trim()).filter(Boolean)],
  // The website QR login app, under the same open platform as the mini-program (same unionid).
  web: {
    appid: process.env.WECHAT_WEB_APPID,
    secret: process.env.WECHAT_WEB_SECRET ?? persisted('sim-web-secret', () => randomBytes(16).toString('hex')),
  },
  // The official account (公众号网页授权, H5 inside WeChat), same open platform.
  oa: {
    appid: process.env.WECHAT_OA_APPID,
    secret: process.env.WECHAT_OA_SECRET ?? persisted('sim-oa-secret', () => randomBytes(16).toString('hex')),
  },
  env: {
    ...process.env,
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    WECHAT_MINI_SECRET: process.env.WECHAT_MINI_SECRET ?? persisted('sim-mini-secret', () => randomBytes(16).toString('hex')),
    // the official account's 服务器配置 (safe mode), so follow-to-login works against the simulator
    WECHAT_OA_TOKEN: process.env.WECHAT_OA_TOKEN ?? persisted('sim-oa-token', () => randomBytes(12).toString('hex')),
    WECHAT_OA_ENCODING_AES_KEY: process.env.WECHAT_OA_ENCODING_AES_KEY ?? persisted('sim-oa-aes-key', () => randomBytes(32).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(43, 'A').slice(0, 43)),
  },
}).catch((error: unknown) => {
  // A busy port names itself and the variable that moves it, instead of a raw EADDRINUSE stack.
  if (error instanceof PortInUseError) {
    console.error(`\n  ${error.message}\n  端口 ${error.port} 已被占用：请结束占用它的进程，或设置 ${error.variable}=<端口> 换一个端口。\n`);
    process.exit(1);
  }
  // The simulator refused its command line (e.g. WECHAT_SIM_OA_TYPE → --oa-type, or an AppID from the
  // environment that is not wx + 16 hex digits): its own message says what it takes.
  if (error instanceof Error && error.message.startsWith('the simulator exited')) {
    const hint = error.message.includes('--oa-type') ? 'WECHAT_SIM_OA_TYPE (the simulator\'s --oa-type): ' : '';
    console.error(`\n  ${hint}${error.message}\n`);
    process.exit(1);
  }
  throw error;
});

console.log(`
  微信登录 dev stack / 开发环境已启动
  API            ${stack.apiUrl}   (store: ${stack.services.store.kind}${stack.services.store.kind === 'embedded' ? `, ${dataDir}/ (store.json + journal)` : ''})
  WeChat 模拟器   ${stack.simUrl}   (mini-program appid ${stack.appid}, website appid ${stack.webAppid}, official-account appid ${stack.oaAppid})
  微信扫码登录     ${stack.apiUrl}/api/auth/web/qr  (H5: the 微信扫码登录 button; the QR page links the simulated phone)
  电脑登录形式     /uni_modules/wlu-wxlogin/pages/login/index?pc_login=embedded|own-qr|follow  (the card's link 在模拟器里用手机打开 plays the phone)
  微信授权登录     ${stack.apiUrl}/api/auth/oa/start  (H5 opened with a MicroMessenger User-Agent; the simulator's user: ?sim_user=alice)
  公众号服务器配置  ${stack.apiUrl}/api/auth/oa/push  (safe mode; the simulated phone: POST ${stack.simUrl}/__sim/oa/scan {"user","qr"})
  Get a login code / 获取登录 code:
    curl -s -X POST ${stack.simUrl}/__sim/mini/code -H 'content-type: application/json' -d '{"appid":"${stack.appid}","user":"alice"}'
`);

let h5: ChildProcess | null = null;
if (!process.argv.includes('--no-h5')) {
  h5 = spawn(process.execPath, ['scripts/uni.mjs', 'dev', 'h5'], {
    stdio: 'inherit',
    // H5_PORT moves the H5 dev server (default 5173; vite takes the next free port when it is busy).
    env: { ...process.env, VITE_DEV_API_TARGET: stack.apiUrl, VITE_DEV_SIM_URL: stack.simUrl },
  });
  h5.on('exit', (code) => console.log(`H5 dev server exited (${code})`));
}

async function shutdown() {
  h5?.kill();
  await stack.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
