#!/usr/bin/env node
// `npm run build:api`: bundles the API (packages/server/src/vercel.ts and everything it imports, node_modules
// included) into api/_build/, minified, for the Vercel functions api/index.ts and api/avatar.ts.
// `vercel build` runs it first (vercel.json buildCommand), then traces the functions' files from it.
//
// Why: unbundled, the login function shipped every file of its dependencies (4.3 MB: the MongoDB
// driver and its URL parser, zod with its 40 locales twice — ESM and CJS — source maps) and a cold
// start read hundreds of files. Bundled it is ~1.4 MB and starts from one ~70 KB file (docs/BENCH.md).
// Code splitting keeps the lazy imports lazy: the MongoDB store and zod are separate chunks, loaded
// on first use, so /api/auth/health loads neither. sharp stays an external package, imported only on an
// avatar upload; vercel.json ships it in api/avatar alone. Likewise ip2region (the IP-region
// databases of the phone's PC-login confirmation page): external, shipped in api/confirm alone.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from './lib/bundle-options.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'api/_build');
rmSync(join(outdir, 'chunks'), { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: 'packages/server/src/vercel.ts' },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  ...BUNDLE_OPTIONS,
  metafile: true,
  external: [
    'sharp',
    // CommonJS that reads its databases next to its own files (__dirname): loaded from node_modules,
    // on the PC confirmation page only; vercel.json ships it (and its data) in api/confirm alone.
    'ip2region',
    // Optional: loaded by name when present (Vercel's pool helper; MongoDB's optional features).
    '@vercel/functions',
    'kerberos',
    '@mongodb-js/zstd',
    'snappy',
    'socks',
    'aws4',
    'mongodb-client-encryption',
    'gcp-metadata',
    '@aws-sdk/credential-providers',
  ],
  // The MongoDB driver is CommonJS and calls require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});

const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`api/_build: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1e6).toFixed(2)} MB`);
