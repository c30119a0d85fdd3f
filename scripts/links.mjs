// The repository keeps two git symlinks for the login uni_module:
//   client/uni_modules/wlu-wxlogin -> ../../packages/wlu-wxlogin   (the host's view of the module)
//   packages/wlu-wxlogin/shared    -> ../../shared                 (one source for server and client)
// A clone without symlink support (Windows without developer mode, core.symlinks=false) checks each
// out as a small text FILE holding the target path. ensureLinks() turns such a file back into a link:
// a junction on Windows (no admin rights needed), a relative symlink elsewhere. scripts/uni.mjs runs it
// before every build and dev server.
import { existsSync, lstatSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const MODULE_LINKS = [
  { path: 'client/uni_modules/wlu-wxlogin', target: '../../packages/wlu-wxlogin' },
  { path: 'packages/wlu-wxlogin/shared', target: '../../shared' },
];

/** Repairs the module links under `root`; returns the paths it repaired. Throws when a link points nowhere. */
export function ensureLinks(root, platform = process.platform) {
  const repaired = [];
  for (const { path, target } of MODULE_LINKS) {
    const at = join(root, path);
    const absolute = resolve(dirname(at), target);
    let stat = null;
    try {
      stat = lstatSync(at);
    } catch {
      // missing: made below
    }
    if (stat?.isSymbolicLink() || stat?.isDirectory()) {
      if (!existsSync(join(at, '.'))) throw new Error(`${path} points nowhere (expected ${target})`);
      continue;
    }
    if (stat?.isFile()) {
      const text = readFileSync(at, 'utf8').trim();
      if (text !== target) throw new Error(`${path} is a file, not the link to ${target}: leave it or remove it`);
      rmSync(at);
    }
    if (!existsSync(absolute)) throw new Error(`${path}: its target ${absolute} does not exist`);
    symlinkSync(platform === 'win32' ? absolute : target, at, 'junction');
    repaired.push(path);
  }
  return repaired;
}
