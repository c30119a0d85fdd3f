#!/usr/bin/env node
// Builds the package into dist/ (gitignored): one ESM bundle per public entry, with shared chunks, and
// the type declarations. `npm pack` runs it (prepack); `vercel build` runs it through `npm run build:api`.
// The repo's own tests, `npm run dev` and the type check read src/ through tsconfig paths and need no dist.
//
// The bundles keep the Vercel function's cold start (docs/BENCH.md): code splitting keeps the lazy
// imports lazy, so importing the package loads neither zod, qrcode, fast-xml-parser nor the MongoDB
// store; the dependencies and the optional peers stay external (resolved from the host's node_modules).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkgDir, 'dist');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const ENTRIES = ['index', 'node', 'next', 'vercel', 'mongodb'];

rmSync(dist, { recursive: true, force: true });
const result = await build({
  absWorkingDir: pkgDir,
  entryPoints: Object.fromEntries(ENTRIES.map((e) => [e, `src/${e}.ts`])),
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  metafile: true,
  // The package's dependencies and optional peers (each with its subpaths), and the MongoDB driver's own optional modules.
  external: [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})].flatMap((n) => [n, `${n}/*`]),
});

// Declarations: tsc over the entries (src imports the repo's shared/, so the tree is rooted at the
// repository); each entry's dist/<entry>.d.ts re-exports its declaration.
const tsc = join(pkgDir, '../../node_modules/typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(pkgDir, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const entry of ENTRIES) writeFileSync(join(dist, `${entry}.d.ts`), `export * from './types/packages/server/src/${entry}.js';\n`);

const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`wlu-wxlogin-server dist: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024).toFixed(0)} KB of JS`);
