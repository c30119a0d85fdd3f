#!/usr/bin/env node
// prepack / postpack of the npm package (and the market zip): in the repository `shared/` is a git
// symlink to the repository's ../../shared (one source for the server and this module). A tarball
// must carry real files, so prepack swaps the link for a copy of the *.ts files and postpack puts
// the link back. Outside the repository (shared/ already a folder) both steps do nothing.
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = join(root, 'shared');
const marker = join(root, '.shared-link');

if (process.argv.includes('--restore')) {
  if (!existsSync(marker)) process.exit(0);
  const target = readFileSync(marker, 'utf8').trim();
  rmSync(shared, { recursive: true, force: true });
  symlinkSync(target, shared);
  unlinkSync(marker);
  console.error(`[wlu-wxlogin] shared/ is the link to ${target} again`);
} else {
  if (!existsSync(shared) || !lstatSync(shared).isSymbolicLink()) process.exit(0);
  const target = readlinkSync(shared);
  const source = resolve(root, target);
  writeFileSync(marker, `${target}\n`);
  unlinkSync(shared);
  mkdirSync(shared);
  const copied = readdirSync(source).filter((name) => name.endsWith('.ts'));
  for (const name of copied) cpSync(join(source, name), join(shared, name));
  console.error(`[wlu-wxlogin] shared/ copied from ${source}: ${copied.join(', ')}`);
}
