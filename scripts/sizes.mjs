#!/usr/bin/env node
// Size budgets, printed and enforced by .ci/run (issue 11):
//   node scripts/sizes.mjs mp         the mp-weixin main package (dist/build/mp-weixin minus
//                                     subpackages) must stay <= 120 KB (WeChat caps it at 2 MB;
//                                     a small main package is what makes the first open fast)
//                                     and prints what the login uni_module (uni_modules/wlu-wxlogin,
//                                     outside its subpackage) costs in it
//   node scripts/sizes.mjs functions  prints every built Vercel function's unpacked size; the one
//                                     that serves logins (api/index) must stay <= 2 MB
// Exit 1 when a budget is exceeded. KB/MB here are 1024-based, as `du` counts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const MP_MAIN_BUDGET = 120 * 1024;
export const LOGIN_FUNCTION_BUDGET = 2 * 1024 * 1024;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}
const bytes = (list) => list.reduce((sum, f) => sum + statSync(f).size, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;

/** Bytes of the main package: every file not under a subpackage root declared in app.json. */
export function mpMainPackageBytes(dir) {
  const app = JSON.parse(readFileSync(join(dir, 'app.json'), 'utf8'));
  const roots = [...(app.subPackages ?? []), ...(app.subpackages ?? [])].map((p) => p.root.replace(/\/?$/, '/'));
  return bytes(files(dir).filter((f) => !roots.some((root) => relative(dir, f).startsWith(root))));
}

/** The uni_module the app consumes (packages/wlu-wxlogin, linked as client/uni_modules/wlu-wxlogin). */
export const MODULE_DIR = 'uni_modules/wlu-wxlogin/';

/** Bytes the module adds to the main package: its files outside every subpackage root. */
export function mpModuleMainBytes(dir) {
  const app = JSON.parse(readFileSync(join(dir, 'app.json'), 'utf8'));
  const roots = [...(app.subPackages ?? []), ...(app.subpackages ?? [])].map((p) => p.root.replace(/\/?$/, '/'));
  return bytes(
    files(dir).filter((f) => {
      const rel = relative(dir, f).split('\\').join('/');
      return rel.startsWith(MODULE_DIR) && !roots.some((root) => rel.startsWith(root));
    }),
  );
}

function check(label, size, budget, format) {
  const ok = size <= budget;
  console.log(`${label}: ${format(size)} (budget ${format(budget)})${ok ? '' : '  <-- OVER BUDGET'}`);
  return ok;
}

// The CLI (the functions above are also used by bench/).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const what = process.argv[2];
  let ok = true;
  if (what === 'mp') {
    const dir = process.argv[3] ?? 'dist/build/mp-weixin';
    if (!existsSync(join(dir, 'app.json'))) {
      console.error(`${dir}/app.json not found: run npm run build:mp first`);
      process.exit(2);
    }
    ok = check('mp-weixin main package', mpMainPackageBytes(dir), MP_MAIN_BUDGET, kb);
    console.log(`  of which the wlu-wxlogin module (${MODULE_DIR}, outside its subpackage): ${kb(mpModuleMainBytes(dir))}`);
  } else if (what === 'functions') {
    const dir = process.argv[3] ?? '.vercel/output/functions/api';
    if (!existsSync(join(dir, 'index.func'))) {
      console.error(`${dir}/index.func not found: run npx vercel build --yes first`);
      process.exit(2);
    }
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.func')).sort()) {
      const size = bytes(files(join(dir, name)));
      if (name === 'index.func') ok = check(`function api/index (serves login)`, size, LOGIN_FUNCTION_BUDGET, mb) && ok;
      else console.log(`function api/${name.replace(/\.func$/, '')}: ${mb(size)}`);
    }
  } else {
    console.error('usage: node scripts/sizes.mjs mp|functions [dir]');
    process.exit(2);
  }
  process.exit(ok ? 0 : 1);
}
