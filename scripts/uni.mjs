#!/usr/bin/env node
// Builds or serves the uni-app client without shell tricks or symlinks (works on Windows too):
//   node scripts/uni.mjs <dev|build> <h5|mp-weixin> [extra uni CLI args]
//   node scripts/uni.mjs check mp-weixin   only the release checks below, nothing built or written
//                                          (`npm run build` runs it before building H5)
// - UNI_INPUT_DIR is ABSOLUTE (<repo>/client): a relative one silently breaks mp-weixin chunking.
// - uni reads manifest.json only from the input dir: the root manifest.json is copied to
//   client/manifest.json (gitignored) before every run.
// - Output: dist/build/<platform> (build) or dist/dev/<platform> (dev; mp-weixin dev = watch build).
// Environment:
//   VITE_API_BASE   API origin for mp-weixin (no trailing slash). Dev default http://<LAN IP>:3000.
//                   REQUIRED for a release mp-weixin build (an https:// origin listed as the
//                   mini-program's request/uploadFile 合法域名): without it the build stops.
//                   H5 always calls the API on its own origin (/api).
//   VITE_SIM_BASE   WeChat simulator origin for the dev-only "code from simulator" switch
//                   (mp-weixin dev builds only). Default http://<API host>:3100.
//   VITE_DEV_SIM_URL  H5 dev server only (npm run dev sets it): the simulator origin for the PC
//                   card's "open as the phone" link (#ifdef DEV_PHONE_LINK, dev h5 only).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLinks } from './links.mjs';
import { mpMainPackageBytes, mpModuleMainBytes } from './sizes.mjs';

const MODES = ['dev', 'build', 'check'];
const PLATFORMS = ['h5', 'mp-weixin'];

const [mode, platform, ...extra] = process.argv.slice(2);
if (!MODES.includes(mode) || !PLATFORMS.includes(platform)) {
  console.error('usage: node scripts/uni.mjs <dev|build|check> <h5|mp-weixin> [uni args]');
  process.exit(2);
}
const dev = mode === 'dev';
const checkOnly = mode === 'check';

/** The made-up AppID the repository ships with: fine for development, useless on a phone. */
const PLACEHOLDER_APPID = 'wxd0c0ffee00000001';

/** A loud, boxed message on stderr. */
function shout(lines) {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width);
  console.error(`\n${bar}\n${lines.map((l) => `! ${l}`).join('\n')}\n${bar}\n`);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const inputDir = join(root, 'client');
// UNI_OUTPUT_DIR (uni's own variable) may redirect the output, e.g. for tests.
const outputDir = process.env.UNI_OUTPUT_DIR ? resolve(process.env.UNI_OUTPUT_DIR) : join(root, 'dist', dev ? 'dev' : 'build', platform);

/** First non-internal IPv4 address: what a phone on the same Wi-Fi (真机预览) can reach. */
function lanAddress() {
  for (const list of Object.values(networkInterfaces())) {
    for (const net of list ?? []) {
      const v4 = net.family === 'IPv4' || net.family === 4;
      if (v4 && !net.internal) return net.address;
    }
  }
  return null;
}

// --- manifest.json: the root file is the source of truth -----------------------------------
const manifestText = readFileSync(join(root, 'manifest.json'), 'utf8');
const manifest = JSON.parse(manifestText);
const appid = manifest['mp-weixin']?.appid ?? '';
if (platform === 'mp-weixin' && !checkOnly && (!appid || appid === PLACEHOLDER_APPID)) {
  shout([
    `manifest.json mp-weixin.appid is ${appid ? `the placeholder ${appid}` : 'empty'}.`,
    'This build cannot be previewed on a phone, uploaded or reviewed.',
    'Put your mini-program AppID (mp.weixin.qq.com → 开发管理 → 开发设置) into manifest.json.',
  ]);
}

// Release mp-weixin builds must call a real API: checked before anything is written or built.
if (!dev && platform === 'mp-weixin') {
  const base = (process.env.VITE_API_BASE ?? '').trim();
  let problem = null;
  if (!base) problem = 'VITE_API_BASE is not set.';
  else {
    try {
      const url = new URL(base);
      if (url.protocol !== 'https:') problem = `VITE_API_BASE must be an https:// origin (WeChat refuses other request domains), got ${base}.`;
      else if (url.pathname !== '/' || url.search || url.hash) problem = `VITE_API_BASE must be an origin without a path, got ${base}.`;
    } catch {
      problem = `VITE_API_BASE is not a URL: ${base}.`;
    }
  }
  if (problem) {
    shout([
      `release mp-weixin build refused: ${problem}`,
      'The mini-program would call an API that does not exist.',
      'Set the API origin, an ICP-filed https domain listed as request/uploadFile 合法域名, e.g.',
      '  VITE_API_BASE=https://api.example.com npm run build:mp',
      '(docs/CLIENT.md, pre-release checklist)',
    ]);
    process.exit(1);
  }
}
if (checkOnly) process.exit(0);

// --- the login uni_module's links (a clone without symlinks has text files there) --------------
for (const path of ensureLinks(root)) console.log(`[uni.mjs] ${path} was a plain file (a clone without symlinks): made it a link again`);

if (dev && platform === 'mp-weixin') {
  // Development only: the dev API is a LAN http:// address, which WeChat's domain check refuses.
  // Release builds keep the manifest's urlCheck (true).
  manifest['mp-weixin'].setting = { ...manifest['mp-weixin'].setting, urlCheck: false };
}
const manifestOut = JSON.stringify(manifest, null, 2) + '\n';
const manifestTarget = join(inputDir, 'manifest.json');
// Only write when it changed, so a running watcher is not re-triggered needlessly.
if (!existsSync(manifestTarget) || readFileSync(manifestTarget, 'utf8') !== manifestOut) {
  writeFileSync(manifestTarget, manifestOut);
}

// --- environment ------------------------------------------------------------------------
const env = {
  ...process.env,
  UNI_INPUT_DIR: inputDir,
  UNI_OUTPUT_DIR: outputDir,
  VITE_MP_APPID: appid,
};
delete env.UNI_CUSTOM_CONTEXT;
delete env.UNI_CUSTOM_DEFINE;

if (platform === 'mp-weixin') {
  const lan = lanAddress();
  let apiBase = process.env.VITE_API_BASE;
  if (!apiBase) {
    apiBase = `http://${lan ?? '127.0.0.1'}:3000`; // dev only: release builds stopped above
  }
  env.VITE_API_BASE = apiBase.replace(/\/+$/, '');
  if (dev) {
    const apiHost = new URL(env.VITE_API_BASE).hostname;
    env.VITE_SIM_BASE = (process.env.VITE_SIM_BASE || `http://${apiHost}:3100`).replace(/\/+$/, '');
    // Custom conditional-compilation flag: `#ifdef DEV_SIM` blocks exist only in this dev build.
    env.UNI_CUSTOM_CONTEXT = JSON.stringify({ DEV_SIM: true });
    syncProjectConfig(appid);
    console.log(`
  mp-weixin development build → ${outputDir}
  Open the repository root (project.config.json) or that folder in WeChat DevTools.
  AppID ${appid}  ·  urlCheck off in this dev build only
  API base the mini-program calls: ${env.VITE_API_BASE}${lan ? `   (LAN address of this machine: ${lan})` : ''}
  WeChat simulator (dev switch on the login page): ${env.VITE_SIM_BASE}
  For 真机预览 the phone must reach the API: start it on all interfaces, e.g.
    HOST=0.0.0.0 npm run dev:api      (PowerShell: $env:HOST="0.0.0.0"; npm run dev:api)
  and keep phone and computer on the same network. Override with VITE_API_BASE / VITE_SIM_BASE.
`);
  }
} else {
  // H5 calls /api on its own origin; vite proxies it in development.
  delete env.VITE_API_BASE;
  delete env.VITE_SIM_BASE;
  // Development only: `#ifdef DEV_PHONE_LINK` blocks (the PC card's "open as the phone" link to the
  // WeChat simulator, packages/wlu-wxlogin/components/wlu-dev-phone-link) exist only in this dev server.
  if (dev) env.UNI_CUSTOM_CONTEXT = JSON.stringify({ DEV_PHONE_LINK: true });
}

/** Keeps the root project.config.json (WeChat DevTools, dev build) on the manifest's AppID. */
function syncProjectConfig(id) {
  const file = join(root, 'project.config.json');
  if (!existsSync(file) || !id) return;
  try {
    const config = JSON.parse(readFileSync(file, 'utf8'));
    if (config.appid !== id) {
      config.appid = id;
      writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
      console.log(`[uni.mjs] project.config.json appid set to ${id} (from manifest.json)`);
    }
  } catch (error) {
    console.warn(`[uni.mjs] could not update project.config.json: ${error.message}`);
  }
}

// --- run the uni CLI --------------------------------------------------------------------
const require = createRequire(import.meta.url);
const pkgFile = require.resolve('@dcloudio/vite-plugin-uni/package.json');
const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
const bin = join(dirname(pkgFile), typeof pkg.bin === 'string' ? pkg.bin : pkg.bin.uni);
const args = dev ? [bin, '-p', platform, ...extra] : [bin, 'build', '-p', platform, ...extra];

const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
/** Bytes of every file under dir (what the mini-program package carries). */
function packageBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? packageBytes(path) : statSync(path).size;
  }
  return total;
}

/** The project's budget for the mp-weixin main package (WeChat's own limit is 2 MB). */
const MAIN_PACKAGE_BUDGET = 120 * 1024;

child.on('exit', (code, signal) => {
  if (code === 0 && !dev && platform === 'h5' && existsSync(outputDir)) {
    // browsers ask for /favicon.ico on their own: answer it instead of a 404
    copyFileSync(join(inputDir, 'h5', 'favicon.ico'), join(outputDir, 'favicon.ico'));
  }
  if (code === 0 && !dev && platform === 'mp-weixin' && existsSync(outputDir)) {
    const bytes = mpMainPackageBytes(outputDir);
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    console.log(
      `[uni.mjs] mp-weixin main package: ${kb(bytes)} (budget ${MAIN_PACKAGE_BUDGET / 1024} KB; the wlu-wxlogin module ${kb(mpModuleMainBytes(outputDir))}), all packages ${kb(packageBytes(outputDir))} → ${outputDir}`,
    );
    if (bytes > MAIN_PACKAGE_BUDGET) {
      console.error(`[uni.mjs] the mp-weixin main package is over its ${MAIN_PACKAGE_BUDGET / 1024} KB budget`);
      process.exit(1);
    }
  }
  process.exit(code ?? (signal ? 1 : 0));
});
