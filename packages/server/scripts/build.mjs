#!/usr/bin/env node
// Builds the package into dist/ (gitignored): one ESM bundle per public entry, with shared chunks, and
// the type declarations. `npm pack` runs it (prepack); `vercel build` runs it through `npm run build:api`.
// The repo's own tests, `npm run dev` and the type check read src/ through tsconfig paths and need no dist.
//
// The bundles keep the Vercel function's size and cold start (docs/BENCH.md): zod, qrcode,
// fast-xml-parser and the MongoDB driver are bundled in, code-split so each loads on its first use
// only (importing the package loads none of them; tests/pack.test.ts checks the static import graph).
// Unbundled they cost the login function 3.3 MB of node_modules (zod alone 1.8 MB: every locale, ESM
// and CJS), over its 2 MB budget. External, resolved from the host's node_modules: the package's
// dependencies but what BUNDLED says (@hono/node-server for ./node, @vercel/functions' root),
// the optional peers loaded by import() where used (sharp: avatar uploads; ip2region: the PC
// confirmation page, which reads its databases next to its own files) and the MongoDB driver's own
// optional modules.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, DRIVER_ALIAS, DRIVER_OPTIONAL, REQUIRE_BANNER } from '../../../scripts/lib/bundle-options.mjs';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkgDir, 'dist');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const ENTRIES = ['index', 'node', 'next', 'vercel', 'mongodb'];

// Bundled though dependencies (docs/BENCH.md "Cold first login"):
// - hono (a dependency for its types: `auth.app`, `middleware()`): Node loads an unbundled hono as ~35
//   files, ~15 ms of every cold start. A Hono host's app composes with the bundled one through
//   `app.route()`, which reads only `routes` and `errorHandler` (tests/pack.test.ts runs one).
// - @vercel/functions/db-connections, a 3 KB CommonJS helper the MongoDB store attaches on a cold
//   login's path: loaded from node_modules it costs ~13 ms (package resolution, Node's CommonJS loader).
//   It finds the request's context through a global symbol, so a bundled copy works as the original.
//   The package's root (`waitUntil`, the push path only) stays external.
const BUNDLED = ['hono', '@vercel/functions/db-connections'];
const EXTERNAL = ['@hono/node-server', '@hono/node-server/*', '@vercel/functions'];
// esbuild treats a package's subpaths as external with it: a bundled subpath is resolved here first
const bundledSubpaths = {
  name: 'bundled-subpaths',
  setup(b) {
    const require = createRequire(join(pkgDir, 'package.json'));
    const subpaths = BUNDLED.filter((n) => n.split('/').length > (n.startsWith('@') ? 2 : 1));
    b.onResolve({ filter: /^[@a-z]/ }, (args) => (subpaths.includes(args.path) ? { path: require.resolve(args.path) } : undefined));
  },
};
for (const dep of Object.keys(pkg.dependencies ?? {})) {
  if (!BUNDLED.includes(dep) && !EXTERNAL.includes(dep)) throw new Error(`build.mjs: say whether the dependency ${dep} is bundled or external`);
}

rmSync(dist, { recursive: true, force: true });
// The mini login's body schema (src/http/routes/login-body.ts, zod/mini) is bundled on its own, not
// split with the rest: in the split build zod/mini and zod share one chunk with all of zod's core and
// locales (~430 KB), which the login would then load anyway (docs/BENCH.md "Cold first login").
const LOGIN_BODY = 'chunks/login-body.js';
const loginBody = {
  name: 'login-body-apart',
  setup(b) {
    b.onResolve({ filter: /\/login-body\.js$/ }, () => ({ path: `./${LOGIN_BODY}`, external: true }));
  },
};
const result = await build({
  absWorkingDir: pkgDir,
  entryPoints: Object.fromEntries(ENTRIES.map((e) => [e, `src/${e}.ts`])),
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  // bundle, splitting, esm, node20, minify, keepNames: the settings bench/cold.ts compares with
  ...BUNDLE_OPTIONS,
  metafile: true,
  plugins: [loginBody, bundledSubpaths],
  external: [
    ...EXTERNAL,
    ...['sharp', 'ip2region'].flatMap((n) => [n, `${n}/*`]),
    ...DRIVER_OPTIONAL,
  ],
  // Node's own URL in place of whatwg-url (see the file): a smaller driver chunk for a cold login.
  alias: DRIVER_ALIAS,
  // The MongoDB driver is CommonJS and calls require() for Node's built-ins.
  banner: REQUIRE_BANNER,
});

const apart = await build({
  absWorkingDir: pkgDir,
  entryPoints: { 'chunks/login-body': 'src/http/routes/login-body.ts' },
  outdir: dist,
  ...BUNDLE_OPTIONS,
  splitting: false,
  metafile: true,
});
// the import of ./chunks/login-body.js, made relative to the output file that holds it
for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))) {
  const path = join(pkgDir, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(`"./${LOGIN_BODY}"`)) continue;
  let target = relative(dirname(path), join(dist, LOGIN_BODY));
  if (!target.startsWith('.')) target = `./${target}`;
  writeFileSync(path, text.replaceAll(`"./${LOGIN_BODY}"`, JSON.stringify(target)));
}
Object.assign(result.metafile.outputs, apart.metafile.outputs);

// The optional peers stay Node's to load: a host's bundler (Next.js: Turbopack or webpack) must not try
// to resolve them at build time (a host without sharp or ip2region would fail to build). esbuild drops
// comments when minifying, so the bundler hints are added to the built files.
for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))) {
  const path = join(pkgDir, file);
  const text = readFileSync(path, 'utf8');
  const hinted = text.replace(/import\("(sharp|ip2region)"\)/g, 'import(/* webpackIgnore: true */ /* turbopackIgnore: true */ "$1")');
  if (hinted !== text) writeFileSync(path, hinted);
}

// Declarations: tsc over the entries (src imports the repo's shared/, so the tree is rooted at the
// repository); each entry's dist/<entry>.d.ts re-exports its declaration.
const tsc = join(pkgDir, '../../node_modules/typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(pkgDir, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const entry of ENTRIES) writeFileSync(join(dist, `${entry}.d.ts`), `export * from './types/packages/server/src/${entry}.js';\n`);

const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.error(`wlu-wxlogin-server dist: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024).toFixed(0)} KB of JS`);
