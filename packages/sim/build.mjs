#!/usr/bin/env node
// Builds the published package into dist/: one ESM bundle per entry (the programmatic API and the
// `wlu-wxlogin-sim` bin, plain JavaScript for Node >= 20.19, no tsx) with the runtime dependencies
// left as imports, plus the type declarations of the API. Runs on `npm install` in this repository
// (`prepare`) and before `npm pack`.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// esbuild and typescript are the repository's devDependencies. An install without them
// (`npm install --omit=dev`, e.g. a production image) skips the build instead of failing: only
// development uses the simulator.
const tools = await Promise.all([import('esbuild'), import('typescript')]).catch(() => null);
if (!tools) {
  console.error('wlu-wxlogin-sim: esbuild/typescript not installed (devDependencies omitted?): dist/ not built');
  process.exit(process.env.npm_lifecycle_event === 'prepare' ? 0 : 1);
}
const [{ build }, { default: ts }] = tools;

const pkg = dirname(fileURLToPath(import.meta.url));
const src = join(pkg, 'src');
// Built beside dist and swapped in, so a test or dev server reading dist never sees half a build.
const out = join(pkg, `dist.tmp-${process.pid}`);
rmSync(out, { recursive: true, force: true });

await build({
  absWorkingDir: pkg,
  entryPoints: { index: 'src/index.ts', cli: 'src/cli.ts' },
  outdir: out,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // hono, @hono/node-server, qrcode, zod: the package's dependencies, imported at run time
  packages: 'external',
  logLevel: 'warning',
});

// Declarations of src/ (the API's types: SimState and what it holds). Nothing outside src/ may be
// part of the public types: the package ships only dist.
const program = ts.createProgram([join(src, 'index.ts'), join(src, 'qrcode.d.ts')], {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
  declaration: true,
  emitDeclarationOnly: true,
  types: ['node'],
});
const problems = ts.getPreEmitDiagnostics(program);
if (problems.length) {
  console.error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => pkg, getNewLine: () => '\n' }));
  process.exit(1);
}
program.emit(undefined, (file, text) => {
  const rel = relative(src, file.replace(/\.d\.ts$/, '.ts'));
  // the repository's shared/oauth.ts: inlined into the bundle by esbuild, never part of the types
  if (rel.startsWith('..')) return;
  if (/from '\.\.\//.test(text)) throw new Error(`${rel}: its declarations import from outside the package`);
  const target = join(out, 'types', rel.replace(/\.ts$/, '.d.ts'));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
}, undefined, true);

// two renames, so dist/ is missing for an instant only (tests may spawn the bin meanwhile)
const old = join(pkg, `dist.old-${process.pid}`);
try {
  renameSync(join(pkg, 'dist'), old);
} catch {}
try {
  renameSync(out, join(pkg, 'dist'));
} catch (error) {
  // another build (a parallel test run) put its dist/ in place first: the same sources, keep it
  if (!existsSync(join(pkg, 'dist', 'cli.js'))) throw error;
  rmSync(out, { recursive: true, force: true });
}
rmSync(old, { recursive: true, force: true });
console.error('wlu-wxlogin-sim: built dist/');
