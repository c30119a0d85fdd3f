// Issue 20 (G6): the auth store owns EVERY session change. Before the module, client/api/* changed
// the store from outside 9 times (setSession ×3, setUser ×3, applyMe, clear ×2) and api ↔ stores
// imported each other. Now nothing outside packages/wlu-wxlogin/store/ writes the store's state or
// calls a state-setting method, the setters are not even public, and request/ never imports the store.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { useWluAuthStore } from '../uni_modules/wlu-wxlogin/store/auth';
import { installUni } from './support/uni-stub';

const ROOT = resolve(import.meta.dirname, '../..');
const MODULE = join(ROOT, 'packages/wlu-wxlogin');
const HOST = join(ROOT, 'client');

/** Methods that only set state; outside the store nobody may call them (they are not public either). */
const SETTERS = ['setSession', 'setUser', 'applyMe', 'clear', '$patch', '$reset'];

function sources(dir: string, skip: (path: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (skip(path)) return [];
    if (statSync(path).isDirectory()) return sources(path, skip);
    return /\.(ts|vue)$/.test(name) ? [path] : [];
  });
}

/** Every place in `text` that writes one of `keys` or calls a setter (`file:line  code`). */
export function outsideWrites(file: string, text: string, keys: readonly string[]): string[] {
  const write = new RegExp(`\\.(${keys.join('|')})(\\.value)?\\s*(=|\\+=|-=)(?!=)|\\.\\$state\\s*=|\\.(${SETTERS.map((s) => s.replace('$', '\\$')).join('|')})\\(`);
  return text.split('\n').flatMap((line, i) => (write.test(line) ? [`${file}:${i + 1}  ${line.trim()}`] : []));
}

let stateKeys: string[] = [];
beforeEach(() => {
  installUni(() => ({ statusCode: 404 }));
  setActivePinia(createPinia());
  stateKeys = Object.keys(useWluAuthStore().$state);
  vi.unstubAllGlobals();
});

describe('the auth store owns every session change', () => {
  it('Should find the writes it looks for (the 2026 client/api shapes)', () => {
    expect(stateKeys).toEqual(expect.arrayContaining(['token', 'expiresAt', 'user', 'config']));
    const old = ['  useAuthStore().setSession(res);', '  auth.user = next;', '  store.token.value = t;', '  auth.$patch({ token: null });', '  auth.$state = {};'].join('\n');
    expect(outsideWrites('old.ts', old, stateKeys)).toHaveLength(5);
    expect(outsideWrites('ok.ts', 'if (auth.user === null) return;\nconst u = auth.user;', stateKeys)).toEqual([]);
  });

  it('Should have no write of store state outside store/ (module and host)', () => {
    const files = [
      ...sources(MODULE, (p) => p === join(MODULE, 'store') || p === join(MODULE, 'shared') || p.includes('node_modules')),
      ...sources(HOST, (p) => p === join(HOST, 'tests') || p === join(HOST, 'uni_modules')),
    ];
    expect(files.length).toBeGreaterThan(20);
    const writes = files.flatMap((f) => outsideWrites(relative(ROOT, f), readFileSync(f, 'utf8'), stateKeys));
    console.log(`store mutations outside store/: ${writes.length} (9 before issue 20)`);
    expect(writes).toEqual([]);
  });

  it('Should not offer the state setters to anyone outside the store', () => {
    const auth = useWluAuthStore() as unknown as Record<string, unknown>;
    for (const setter of ['setSession', 'setUser', 'applyMe']) expect(auth[setter]).toBeUndefined();
  });

  it('Should keep request/ free of the store (no api ↔ store import cycle)', () => {
    const imports = sources(join(MODULE, 'request'), () => false).filter((f) => /from '\.\.\/store\//.test(readFileSync(f, 'utf8')));
    expect(imports.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
