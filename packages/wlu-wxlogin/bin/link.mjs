#!/usr/bin/env node
// npx wlu-wxlogin link [--copy] [--src <dir>]
// Puts the npm-installed module where uni-app looks for uni_modules: <src>/uni_modules/wlu-wxlogin.
//   default  a relative SYMLINK to node_modules/wlu-wxlogin (`npm update` updates it in place; uni's
//            vite config keeps symlinked paths, so the pages stay in their subpackage and H5 dev
//            loads one copy)
//   --copy   a real copy (Windows without symlink rights, HBuilderX): re-run after every `npm update`
//   --src    the folder with pages.json (default: src/ when src/pages.json exists, else the project root)
// A real folder that this command did not copy is never overwritten.
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ID = 'wlu-wxlogin';
const MARKER = '.wlu-wxlogin-copy';
const args = process.argv.slice(2);
const [command] = args;

function fail(message) {
  console.error(`wlu-wxlogin: ${message}`);
  process.exit(1);
}

if (command !== 'link') {
  console.error('usage: npx wlu-wxlogin link [--copy] [--src <dir with pages.json>]');
  process.exit(command ? 2 : 0);
}

const project = process.cwd();
const srcFlag = args.indexOf('--src');
const src = srcFlag >= 0 ? args[srcFlag + 1] : existsSync(join(project, 'src', 'pages.json')) ? 'src' : '.';
if (!src) fail('--src needs a folder');
const inputDir = resolve(project, src);
if (!existsSync(join(inputDir, 'pages.json'))) fail(`no pages.json in ${inputDir}: pass the folder that has it with --src`);

const installed = join(project, 'node_modules', ID);
const source = existsSync(installed) ? installed : resolve(dirname(fileURLToPath(import.meta.url)), '..');
const version = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')).version;
const target = join(inputDir, 'uni_modules', ID);

mkdirSync(dirname(target), { recursive: true });
let existing = null;
try {
  existing = lstatSync(target);
} catch {
  // nothing there yet
}
if (existing) {
  if (!existing.isSymbolicLink() && !existsSync(join(target, MARKER))) fail(`${target} is a folder this command did not create (downloaded from the market?): remove it first`);
  rmSync(target, { recursive: true, force: true });
}

if (args.includes('--copy')) {
  cpSync(source, target, { recursive: true, dereference: true, filter: (path) => !path.includes(`${ID}/node_modules`) });
  writeFileSync(join(target, MARKER), `${version}\n`);
  console.log(`wlu-wxlogin ${version} copied to ${relative(project, target)} (run again after npm update)`);
} else {
  // POSIX: a relative link (the project folder can move); Windows: a junction (no admin rights), which must be absolute
  const link = process.platform === 'win32' ? source : relative(dirname(target), source);
  symlinkSync(link, target, 'junction');
  console.log(`${relative(project, target)} -> ${link} (wlu-wxlogin ${version})`);
}
console.log('Next: app.use(createWechatLogin({...})) in main.ts and ONE subPackages entry in pages.json (readme.md).');
