// Arrows point down (issue 11 "the house", docs/ARCHITECTURE.md): every import in api/_lib goes to
// the same module or to a layer below. A file in no layer fails too, so a new one gets placed.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LIB = resolve(import.meta.dirname, '../packages/server/src');

/**
 * Highest first. A file may import its own row or any row below it (flow folders among themselves:
 * only the shared OAuth machinery, next test). The bottom rows are one layer ("wechat, store,
 * crypto") read in the one order they already use, so it has no cycle either.
 */
/** `as unknown as` casts left under packages/server/src/flows and packages/server/src/wechat (lower it when one goes; see docs/ARCHITECTURE.md). */
const CASTS_IN_FLOWS_CEILING = 0;

export const LAYERS: { name: string; paths: string[] }[] = [
  { name: 'root (the public entries and the wiring: config, process)', paths: ['index.ts', 'node.ts', 'next.ts', 'vercel.ts', 'mongodb.ts', 'main.ts', 'config.ts'] },
  { name: 'doors (descriptors: a door\'s routes, limits, checks)', paths: ['doors/'] },
  { name: 'http (routes, middleware, the error edge)', paths: ['http/'] },
  { name: 'flows (one folder per login door)', paths: ['flows/'] },
  { name: 'sessions', paths: ['sessions/'] },
  { name: 'users', paths: ['users/'] },
  { name: 'domain errors (AppError)', paths: ['errors.ts'] },
  { name: 'wechat', paths: ['wechat/'] },
  { name: 'crypto', paths: ['crypto/'] },
  { name: 'store', paths: ['store/'] },
  { name: 'log', paths: ['log.ts'] },
];

export function layerOf(file: string): number {
  return LAYERS.findIndex((layer) => layer.paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

function moduleOf(file: string): string {
  // flows/mini/login.ts → flows/mini; http/routes/me.ts → http; wechat/sns/userinfo.ts → wechat
  const parts = file.split('/');
  return parts[0] === 'flows' ? parts.slice(0, 2).join('/') : parts.length > 1 ? parts[0]! : file;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports: static, `export … from`, `import type`, dynamic `import()`. */
export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The upward imports among `files` ({ path relative to api/_lib: source text }). */
export function upwardImports(files: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    const from = layerOf(file);
    if (from < 0) {
      problems.push(`${file}: in no layer (add it to LAYERS in tests/architecture.test.ts and docs/ARCHITECTURE.md)`);
      continue;
    }
    for (const spec of importsOf(text)) {
      if (!spec.startsWith('.')) continue; // packages, node: builtins
      const target = relative(LIB, resolve(LIB, dirname(file), spec)).replace(/\.js$/, '.ts');
      if (target.startsWith('..')) continue; // ../../shared: types shared with the client, below everything
      const to = layerOf(target);
      if (to < 0 || to < from) problems.push(`${file} → ${target} (${LAYERS[from]!.name} must not import ${to < 0 ? 'an unplaced file' : LAYERS[to]!.name})`);
    }
  }
  return problems;
}

describe('server package layering', () => {
  it('every import points down: http → flows → sessions → users → errors → wechat → crypto → store → log', () => {
    const files = Object.fromEntries(sources(LIB).map((path) => [relative(LIB, path).split('\\').join('/'), readFileSync(path, 'utf8')]));
    expect(Object.keys(files).length).toBeGreaterThan(30);
    expect(upwardImports(files)).toEqual([]);
  });

  it('flow folders do not import each other except the shared OAuth machinery', () => {
    const files = sources(join(LIB, 'flows')).map((path) => relative(LIB, path));
    const crossing = files.flatMap((file) =>
      importsOf(readFileSync(join(LIB, file), 'utf8'))
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => relative(LIB, resolve(LIB, dirname(file), spec)))
        .filter((target) => target.startsWith('flows/') && moduleOf(target) !== moduleOf(file) && !target.startsWith('flows/oauth/'))
        .map((target) => `${file} → ${target}`),
    );
    expect(crossing).toEqual([]);
  });

  // Options in, env out (issue 20 step 4): the package takes options; the variable names live in the
  // host (api/_host.ts, the repo's own mapping), never in the package.
  it('the package reads no environment variable (the host maps its own: api/_host.ts)', () => {
    const readers = sources(LIB)
      .map((path) => relative(LIB, path).split('\\').join('/'))
      .flatMap((file) => {
        const text = readFileSync(join(LIB, file), 'utf8');
        return [...text.matchAll(/\b(?:process\.)?env\.[A-Z][A-Z0-9_]*|\bprocess\.env\b/g)].map((m) => `${file}: ${m[0]}`);
      });
    expect(readers).toEqual([]);
  });

  // Issue 20 §3: api/ is a thin host that uses the package exactly as a stranger would.
  it('api/ imports the server package by name only (wlu-wxlogin-server/...), never its files', () => {
    const API = resolve(import.meta.dirname, '../api');
    const hostFiles = readdirSync(API).filter((f) => f.endsWith('.ts'));
    expect(hostFiles.sort()).toEqual(['_host.ts', 'avatar.ts', 'confirm.ts', 'index.ts']);
    const specs = hostFiles.flatMap((f) => importsOf(readFileSync(join(API, f), 'utf8')).map((spec) => `${f}: ${spec}`));
    expect(specs.filter((s) => /packages\/|_build|_lib/.test(s))).toEqual([]);
    for (const f of ['index.ts', 'avatar.ts', 'confirm.ts']) expect(specs).toContain(`${f}: wlu-wxlogin-server/vercel`);
  });

  // Typed temporary records (issue 20 step 6): flows read and write record values through
  // store/records.ts (zod-parsed), not by casting `unknown`. The ceiling only goes down.
  it('flows and wechat cast record values no more than today: `as unknown as` under flows/ and wechat/ does not grow', () => {
    const CEILING = CASTS_IN_FLOWS_CEILING;
    const casts = [...sources(join(LIB, 'flows')), ...sources(join(LIB, 'wechat'))].flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line, i) => (line.includes('as unknown as') ? [`${relative(LIB, path)}:${i + 1}`] : [])),
    );
    expect(casts.length, `new casts under flows/ or wechat/ (parse record values: a defineRecord kind from store/records.ts, or zod):\n${casts.join('\n')}`).toBeLessThanOrEqual(CEILING);
  });

  // Stores behind small ports (issue 20, docs/design/issue-20-drop-in.md §4): flows, sessions/ and
  // users/ name the ports they use (`Pick<Storage, 'records' | …>`, a port type); the whole Storage
  // (lifecycle included) is the wiring's (main.ts, doors/, http/).
  it('domain code takes only the ports it uses, never the whole Storage', () => {
    const whole = [...sources(join(LIB, 'flows')), ...sources(join(LIB, 'sessions')), ...sources(join(LIB, 'users'))].flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\bstore\??: Storage\b|\(store: Storage\b|as Storage\b/.test(line) ? [`${relative(LIB, path)}:${i + 1}`] : [])),
    );
    expect(whole, 'take Pick<Storage, \'<port>\' | …> or the port type instead').toEqual([]);
  });

  // The checker itself: it must see each kind of import and say no to each way up.
  it('catches imports that run back up, of every syntax', () => {
    expect(
      upwardImports({
        'flows/mini/routes.ts': "import { readJson } from '../../http/json.js';",
        'users/x.ts': "export { miniLogin } from '../flows/mini/login.js';",
        'users/y.ts': "import type { SessionManager } from '../sessions/sessions.js';",
        'wechat/z.ts': "const { AppError } = await import('../errors.js');",
        'store/w.ts': "import { redact } from '../log.js';\nimport { sealer } from '../crypto/seal.js';",
        'newdir/q.ts': '',
      }),
    ).toEqual([
      'flows/mini/routes.ts → http/json.ts (flows (one folder per login door) must not import http (routes, middleware, the error edge))',
      'users/x.ts → flows/mini/login.ts (users must not import flows (one folder per login door))',
      'users/y.ts → sessions/sessions.ts (users must not import sessions)',
      'wechat/z.ts → errors.ts (wechat must not import domain errors (AppError))',
      'store/w.ts → crypto/seal.ts (store must not import crypto)',
      'newdir/q.ts: in no layer (add it to LAYERS in tests/architecture.test.ts and docs/ARCHITECTURE.md)',
    ]);
    expect(upwardImports({ 'http/app.ts': "import { miniLogin } from '../flows/mini/login.js';\nimport { z } from 'zod';\nimport { ERROR_CODES } from '../../shared/errors.js';" })).toEqual([]);
  });
});
