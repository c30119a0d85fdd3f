// The uni_module's package (packages/wlu-wxlogin): one folder for the DCloud market and npm (id = name),
// peers only, and a tarball that carries real shared/ files (in the workspace shared/ is a git symlink
// to the repository's shared/: prepack copies, postpack restores the link).
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const MODULE = join(ROOT, 'packages/wlu-wxlogin');
const pkg = JSON.parse(readFileSync(join(MODULE, 'package.json'), 'utf8')) as Record<string, any>;
const work = mkdtempSync(join(tmpdir(), 'module-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packages/wlu-wxlogin', () => {
  it('Should be one package for the market and npm: id = name, peers vue/pinia, no dependencies', () => {
    expect(pkg.id).toBe('wlu-wxlogin');
    expect(pkg.name).toBe(pkg.id);
    expect(pkg.id).toMatch(/^[A-Za-z0-9]{2,}-[A-Za-z0-9]+$/); // 作者ID-插件名 (F7)
    expect(pkg.peerDependencies).toEqual({ vue: expect.any(String), pinia: expect.stringMatching(/^\^2\./) });
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.uni_modules.platforms.client.Vue).toEqual({ vue2: 'n', vue3: 'y' });
    for (const entry of pkg.files as string[]) expect(existsSync(join(MODULE, entry)), entry).toBe(true);
  });

  it('Should pack real shared/ files identical to the repository shared/, and leave the workspace link in place', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: MODULE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { filename: string; files: { path: string }[] }[];
    const paths = packed!.files.map((f) => f.path);
    expect(paths.filter((p) => p.startsWith('shared/')).sort()).toEqual(['shared/api.ts', 'shared/errors.ts', 'shared/oauth.ts']);
    expect(paths).toEqual(expect.arrayContaining(['index.ts', 'package.json', 'readme.md', 'changelog.md', 'bin/link.mjs', 'pages/login/index.vue', 'store/auth.ts']));
    expect(paths.some((p) => p.startsWith('scripts/') || p === '.shared-link')).toBe(false);
    const out = join(work, 'unpacked');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xzf', join(work, packed!.filename), '--strip-components=1', '-C', out]);
    for (const name of ['api.ts', 'errors.ts', 'oauth.ts']) {
      expect(lstatSync(join(out, 'shared', name)).isFile()).toBe(true);
      expect(readFileSync(join(out, 'shared', name))).toEqual(readFileSync(join(ROOT, 'shared', name)));
    }
    expect(lstatSync(join(MODULE, 'shared')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(MODULE, '.shared-link'))).toBe(false);
  });
});
