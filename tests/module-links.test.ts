// The login uni_module's two git symlinks survive a clone without symlink support: scripts/links.mjs
// (run by scripts/uni.mjs before every build) turns the text file git leaves into a link again.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureLinks, MODULE_LINKS } from '../scripts/links.mjs';

const ROOT = resolve(import.meta.dirname, '..');
let root = '';
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A repository as a clone with core.symlinks=false leaves it: each link is a file holding its target. */
function cloneWithoutSymlinks(): string {
  root = mkdtempSync(join(tmpdir(), 'module-links-'));
  mkdirSync(join(root, 'shared'));
  writeFileSync(join(root, 'shared', 'api.ts'), 'export const SHARED = 1;\n');
  mkdirSync(join(root, 'packages', 'wlu-wxlogin'), { recursive: true });
  writeFileSync(join(root, 'packages', 'wlu-wxlogin', 'index.ts'), 'export {};\n');
  mkdirSync(join(root, 'client', 'uni_modules'), { recursive: true });
  for (const { path, target } of MODULE_LINKS) writeFileSync(join(root, path), target);
  return root;
}

describe('scripts/links.mjs', () => {
  it('Should keep the repository links as they are (they are links)', () => {
    for (const { path } of MODULE_LINKS) expect(lstatSync(join(ROOT, path)).isSymbolicLink(), path).toBe(true);
    expect(ensureLinks(ROOT)).toEqual([]);
  });

  it('Should turn the files a symlink-less clone has into links to the module and to shared/', () => {
    const dir = cloneWithoutSymlinks();
    expect(ensureLinks(dir).sort()).toEqual(MODULE_LINKS.map((l) => l.path).sort());
    expect(realpathSync(join(dir, 'client/uni_modules/wlu-wxlogin'))).toBe(realpathSync(join(dir, 'packages/wlu-wxlogin')));
    expect(readFileSync(join(dir, 'client/uni_modules/wlu-wxlogin/shared/api.ts'), 'utf8')).toBe('export const SHARED = 1;\n');
    expect(ensureLinks(dir)).toEqual([]); // once is enough
  });

  it('Should refuse a file that is not the link it replaces, and leave it alone', () => {
    const dir = cloneWithoutSymlinks();
    writeFileSync(join(dir, 'client/uni_modules/wlu-wxlogin'), 'something of the host');
    expect(() => ensureLinks(dir)).toThrow(/is a file, not the link/);
    expect(readFileSync(join(dir, 'client/uni_modules/wlu-wxlogin'), 'utf8')).toBe('something of the host');
    expect(existsSync(join(dir, 'packages/wlu-wxlogin/index.ts'))).toBe(true);
  });
});
