// Cold start and size of BUILT Vercel functions: the product's (`vercel build` in the repository)
// and a hello-world Hono function built the same way in a temporary directory.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, DRIVER_ALIAS, DRIVER_OPTIONAL, REQUIRE_BANNER } from '../scripts/lib/bundle-options.mjs';
import { request } from './lib.js';

const ROOT = resolve(import.meta.dirname, '..');
const VERCEL = join(ROOT, 'node_modules/.bin/vercel');
const LAUNCHER = join(ROOT, 'bench/cold-launch.mjs');

/** Bytes of all files under `dir` (what "unpacked" means for a function bundle). */
export function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => {
    const path = join(dir, name);
    const st = statSync(path);
    return sum + (st.isDirectory() ? dirBytes(path) : st.size);
  }, 0);
}

export function funcEntry(funcDir: string): string {
  return join(funcDir, JSON.parse(readFileSync(join(funcDir, '.vc-config.json'), 'utf8')).handler);
}

function vercelBuild(cwd: string): void {
  mkdirSync(join(cwd, '.vercel'), { recursive: true });
  const project = join(cwd, '.vercel/project.json');
  if (!existsSync(project)) writeFileSync(project, '{"projectId":"prj_bench","orgId":"team_bench","settings":{"framework":null}}\n');
  execFileSync(VERCEL, ['build', '--yes'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `vercel build` of the repository; returns the functions directory. */
export function buildProduct(): string {
  vercelBuild(ROOT);
  return join(ROOT, '.vercel/output/functions/api');
}

/**
 * A hello-world Hono function (the repository's hono version), built the same way as the product:
 * its app bundled by esbuild with the options of scripts/lib/bundle-options.mjs into api/_build/app.js,
 * served by a two-line api/index.ts, then `vercel build`.
 */
export function buildHello(): Promise<{ funcDir: string; cleanup(): void }> {
  return buildHonoFunction('hello', "import { Hono } from 'hono';\n\nconst app = new Hono();\napp.get('/api/*', (c) => c.json({ hello: 'world' }));\n\nexport default app;\n");
}

/**
 * The floor of any cold login that keeps its accounts in MongoDB: the hello-world function plus, on
 * `POST /api/floor`, what such a login cannot skip — import the MongoDB driver (bundled as the package
 * bundles it: same options, Node's URL for whatwg-url), connect, one `find` and one `insert`, the two
 * round trips of a returning login. No WeChat call, no validation, no rate limit: a lower bound, not a
 * product.
 */
export function buildFloor(): Promise<{ funcDir: string; cleanup(): void }> {
  return buildHonoFunction(
    'floor',
    `import { Hono } from 'hono';

const app = new Hono();
let client;
app.post('/api/floor', async (c) => {
  const { MongoClient } = await import('./driver.js');
  client ??= await new MongoClient(process.env.MONGODB_URI).connect();
  const db = client.db(process.env.MONGODB_DB);
  const found = await db.collection('floor_identities').findOne({ _id: 'returning' });
  await db.collection('floor_sessions').insertOne({ at: new Date(), found: !!found });
  return c.json({ ok: true });
});

export default app;
`,
    { 'driver.js': "export { MongoClient } from 'mongodb';\n" },
    { alias: DRIVER_ALIAS, nodePaths: [join(ROOT, 'node_modules')], external: DRIVER_OPTIONAL, banner: REQUIRE_BANNER },
  );
}

async function buildHonoFunction(name: string, source: string, modules: Record<string, string> = {}, extra: Parameters<typeof build>[0] = {}): Promise<{ funcDir: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'api'));
  writeFileSync(join(dir, 'src/app.ts'), source);
  for (const [file, text] of Object.entries(modules)) writeFileSync(join(dir, 'src', file.replace(/\.js$/, '.ts')), text);
  writeFileSync(join(dir, 'api/index.ts'), "// @ts-nocheck -- the bundle has no types here\nimport app from './_build/app.js';\n\nexport default app;\n");
  const hono = JSON.parse(readFileSync(join(ROOT, 'node_modules/hono/package.json'), 'utf8')).version;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `bench-${name}`, private: true, type: 'module', dependencies: { hono } }));
  writeFileSync(join(dir, 'vercel.json'), JSON.stringify({ rewrites: [{ source: '/api/(.*)', destination: '/api' }] }));
  mkdirSync(join(dir, 'node_modules'));
  cpSync(join(ROOT, 'node_modules/hono'), join(dir, 'node_modules/hono'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules/typescript'), join(dir, 'node_modules/typescript'));
  await build({
    absWorkingDir: dir,
    entryPoints: { app: 'src/app.ts' },
    outdir: join(dir, 'api/_build'),
    ...BUNDLE_OPTIONS,
    ...extra,
  });
  vercelBuild(dir);
  return { funcDir: join(dir, '.vercel/output/functions/api/index.func'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ColdResult {
  ms: number;
  /** from the child's process start to the end of importing the function */
  importMs: number;
  mongodbLoaded: boolean;
  /** COLD_TRACE=1 in env: the launcher's timeline of the (last) request, [event, ms since the child started] */
  trace?: [string, number][];
}

/** Spawns a fresh process on the built `entry`; time from spawn to the first 200 on `path`. */
export function coldOnce(entry: string, env: Record<string, string>, path: string, body?: unknown): Promise<ColdResult> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [LAUNCHER, entry], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  return new Promise<ColdResult>((resolvePromise, reject) => {
    let ms = 0;
    let importMs = 0;
    let loaded: boolean | undefined;
    let trace: [string, number][] | undefined;
    const finish = () => {
      if (!ms || loaded === undefined) return;
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
      resolvePromise({ ms, importMs, mongodbLoaded: loaded, ...(trace ? { trace } : {}) });
    };
    child.once('exit', (code) => reject(new Error(`cold launcher exited with ${code}`)));
    lines.on('line', async (line) => {
      const msg = JSON.parse(line) as { port?: number; importMs?: number; mongodbLoaded?: boolean; trace?: [string, number][] };
      if (msg.mongodbLoaded !== undefined) {
        loaded = msg.mongodbLoaded;
        trace = msg.trace;
        return finish();
      }
      if (!msg.port) return;
      importMs = msg.importMs ?? 0;
      try {
        const res = await request(`http://127.0.0.1:${msg.port}${path}`, body === undefined ? {} : { method: 'POST', body });
        if (res.status !== 200) throw new Error(`${path} → ${res.status} ${res.body.slice(0, 200)}`);
        ms = performance.now() - t0;
        finish();
      } catch (error) {
        child.removeAllListeners('exit');
        child.kill('SIGKILL');
        reject(error);
      }
    });
  });
}
