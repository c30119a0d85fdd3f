#!/usr/bin/env node
// A MongoDB-compatible server for tests on a machine without mongod:
// FerretDB v1 (built from the Go module proxy) on a private PostgreSQL cluster.
//
//   node scripts/ferretdb.mjs start   idempotent; the URI is the LAST line on stdout
//   node scripts/ferretdb.mjs stop    stops FerretDB and the private PostgreSQL cluster
//   node scripts/ferretdb.mjs uri     prints the URI (exit 3 when the server is not running)
//   node scripts/ferretdb.mjs tune    (re)installs the index companions below on the running cluster
//                                     (FERRETDB_PG_PORT picks another cluster, e.g. a shared one)
//
// When MONGODB_URI is set, every command prints it and does nothing else.
// PostgreSQL rather than SQLite: SQLite serializes writes and would hide the races the store
// contract suite tests for. Progress goes to stderr; state, logs and pid files live in .cache/.
//
// Index companions (why: docs/BENCH.md, "FerretDB v1 and the _id scan"). FerretDB v1 stores each
// document as one jsonb column `_jsonb` and creates every index, `_id` included, as a btree over
// `(_jsonb -> 'field')`; but its query pushdown filters with the containment operator
// `_jsonb -> 'field' @> '"value"'`, which a btree cannot serve, so every find/update/delete/
// findAndModify by `_id` or any indexed field scanned the whole table (8.2 ms at 10,600 rows,
// ~20 ms at 100,000). `start` installs an event trigger that gives each such btree a GIN twin
// (jsonb_path_ops, which serves `@>`), so lookups cost what they would on MongoDB. It changes no
// query result. FerretDB v1 also has no TTL: createIndexes rejects expireAfterSeconds (code 238)
// and there is no expiry monitor, so expiry is checked in queries (see api/_lib/store/mongo.ts).
//
// Environment: FERRETDB_PORT (default 27018), FERRETDB_PG_PORT (default 55432),
// FERRETDB_VERSION (default v1.24.2, the newest v1.24.x on the module proxy).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { arch, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache');
const FERRET_VERSION = process.env.FERRETDB_VERSION || 'v1.24.2';
const FERRET_MODULE = 'github.com/FerretDB/FerretDB';
const FERRET_BIN = join(CACHE, 'bin', 'ferretdb');
const FERRET_STATE_DIR = join(CACHE, 'ferretdb');
const FERRET_LOG = join(CACHE, 'ferretdb.log');
const FERRET_PID = join(CACHE, 'ferretdb.pid');
const PG_PID = join(CACHE, 'postgres.pid');
const STATE_FILE = join(CACHE, 'ferretdb.json');
const PREFERRED_PORT = Number(process.env.FERRETDB_PORT || 27018);
const PREFERRED_PG_PORT = Number(process.env.FERRETDB_PG_PORT || 55432);
// Used only when no usable `go` (>= 1.21) is installed; a Go module on the module proxy.
const GO_TOOLCHAIN = 'go1.24.3';
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const PG_OS_USER = 'postgres';

const log = (...args) => console.error('[ferretdb]', ...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uriFor = (port) => `mongodb://127.0.0.1:${port}/`;

function fail(message) {
  log(`error: ${message}`);
  process.exit(1);
}

/** Runs a command; stdout is captured, stderr goes to ours. Throws on a non-zero exit unless allowFail. */
function run(cmd, args, { allowFail = false, env, cwd, input } = {}) {
  const res = spawnSync(cmd, args, {
    encoding: 'utf8',
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'],
    input,
    env: env ?? process.env,
    cwd,
  });
  if (res.error) {
    if (allowFail) return { status: -1, stdout: '' };
    throw res.error;
  }
  if (res.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${res.status}${res.stdout ? `\n${res.stdout}` : ''}`);
  }
  return { status: res.status, stdout: res.stdout ?? '' };
}

function which(cmd) {
  const res = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : null;
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function readPid(file) {
  try {
    // First line: our pid files, and PostgreSQL's postmaster.pid (which has more lines).
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === 'EPERM';
  }
  // A zombie or a recycled pid that is not ours does not count.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/.test(stat)) return false;
  } catch {
    /* no procfs: trust kill(0) */
  }
  return true;
}

function isFerretProcess(pid) {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ferretdb');
  } catch {
    return true;
  }
}

function portOpen(port, timeoutMs = 500) {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function portFree(port) {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

async function pickPort(preferred, taken = []) {
  for (let port = preferred; port < preferred + 100; port++) {
    if (taken.includes(port)) continue;
    if (await portFree(port)) return port;
  }
  throw new Error(`no free port in ${preferred}..${preferred + 99}`);
}

/** `ping` through the official driver (the same client the app uses). */
async function mongoPing(uri, timeoutMs = 1500) {
  let MongoClient;
  try {
    ({ MongoClient } = await import('mongodb'));
  } catch {
    return (await portOpen(Number(new URL(uri).port))) ? 'tcp-only' : false;
  }
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs, appName: 'ferretdb-script' });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function findPgBin() {
  // PATH entries may be symlinks (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb):
  // resolve them, the companion binaries (pg_ctl, psql, createdb) live next to the real one.
  const onPath = which('initdb');
  if (onPath) {
    const dir = dirname(realpathSync(onPath));
    if (['pg_ctl', 'psql', 'createdb'].every((b) => existsSync(join(dir, b)))) return dir;
  }
  let versions = [];
  try {
    versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    /* not installed */
  }
  return versions.length ? join('/usr/lib/postgresql', versions[0], 'bin') : null;
}

function ensurePostgresInstalled() {
  let bin = findPgBin();
  if (bin) return bin;
  if (!IS_ROOT) fail('PostgreSQL server binaries not found (looked for initdb in PATH and /usr/lib/postgresql/*/bin); install the Debian package `postgresql`, or set MONGODB_URI');
  log('installing PostgreSQL (apt-get install postgresql)…');
  const t0 = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { env });
  bin = findPgBin();
  if (!bin) fail('apt-get install postgresql finished but initdb was not found');
  log(`PostgreSQL installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return bin;
}

/** Runs a PostgreSQL server binary as the cluster owner: initdb/postgres refuse to run as root. */
function runPg(bin, args, opts = {}) {
  if (!IS_ROOT) return run(bin, args, opts);
  // The postgres user may not be allowed into our cwd (e.g. a checkout under /root).
  opts = { cwd: '/', ...opts };
  if (which('runuser')) return run('runuser', ['-u', PG_OS_USER, '--', bin, ...args], opts);
  const quoted = [bin, ...args].map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  return run('su', ['-s', '/bin/sh', PG_OS_USER, '-c', quoted], opts);
}

function chownToPg(path) {
  run('chown', ['-R', `${PG_OS_USER}:`, path]);
}

/**
 * Where the cluster lives. `.cache/pg` normally; as root, the `postgres` user must be able to
 * reach it — when the checkout is not traversable for it (e.g. under /root), use /var/tmp.
 */
function pgBaseDir() {
  const inCache = join(CACHE, 'pg');
  if (!IS_ROOT) return inCache;
  if (runPg('test', ['-x', CACHE], { allowFail: true }).status === 0) return inCache;
  const hash = createHash('sha256').update(ROOT).digest('hex').slice(0, 10);
  const alt = join('/var/tmp', `ferretdb-pg-${hash}`);
  log(`${CACHE} is not reachable for the ${PG_OS_USER} user; the cluster lives in ${alt}`);
  return alt;
}

function pgPaths(base) {
  return { base, data: join(base, 'data'), run: join(base, 'run'), log: join(base, 'postgres.log') };
}

function ensureCluster(bin, paths) {
  if (existsSync(join(paths.data, 'PG_VERSION'))) return;
  log(`initializing a PostgreSQL cluster in ${paths.data}`);
  rmSync(paths.base, { recursive: true, force: true });
  mkdirSync(paths.data, { recursive: true, mode: 0o700 });
  mkdirSync(paths.run, { recursive: true });
  if (IS_ROOT) chownToPg(paths.base);
  runPg(join(bin, 'initdb'), ['-D', paths.data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
}

/** Port of the running cluster, or null. */
function runningPgPort(bin, paths) {
  if (!existsSync(join(paths.data, 'postmaster.pid'))) return null;
  const status = runPg(join(bin, 'pg_ctl'), ['-D', paths.data, 'status'], { allowFail: true });
  if (status.status !== 0) return null;
  const lines = readFileSync(join(paths.data, 'postmaster.pid'), 'utf8').split('\n');
  const port = Number(lines[3]);
  writeFileSync(PG_PID, `${lines[0]}\n`);
  return Number.isInteger(port) && port > 0 ? port : null;
}

async function ensurePostgresRunning(bin, paths) {
  const existing = runningPgPort(bin, paths);
  if (existing) {
    log(`PostgreSQL already running on 127.0.0.1:${existing}`);
    return existing;
  }
  const port = await pickPort(PREFERRED_PG_PORT);
  mkdirSync(paths.run, { recursive: true });
  if (IS_ROOT) chownToPg(paths.run);
  // Unix socket paths are limited to ~107 bytes; without room, TCP only.
  const socketDir = join(paths.run, `.s.PGSQL.${port}`).length < 100 ? paths.run : '';
  const serverOptions = [
    `-p ${port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories='${socketDir}'`,
    // A throwaway test cluster: durability traded for speed.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  log(`starting PostgreSQL on 127.0.0.1:${port}`);
  runPg(join(bin, 'pg_ctl'), ['-D', paths.data, '-l', paths.log, '-w', '-t', '60', '-o', serverOptions, 'start']);
  const actual = runningPgPort(bin, paths);
  if (!actual) fail(`PostgreSQL did not start; see ${paths.log}`);
  return actual;
}

function ensureDatabase(bin, pgPort) {
  const conn = ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres'];
  const found = run(join(bin, 'psql'), [...conn, '-d', 'postgres', '-tAc', "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'"]);
  if (found.stdout.trim() === '1') return;
  log('creating database ferretdb');
  run(join(bin, 'createdb'), [...conn, 'ferretdb']);
}

/** SQL for the GIN companions (see the header). Idempotent; failures inside the trigger only warn. */
const COMPANION_SQL = String.raw`
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION public.ferretdb_gin_companion(idx regclass) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  m text[];
  tbl regclass;
BEGIN
  -- Only FerretDB's single-field indexes: btree over (_jsonb -> 'field').
  m := regexp_match(pg_get_indexdef(idx), '^CREATE (UNIQUE )?INDEX \S+ ON \S+ USING btree \(\(\(_jsonb -> (''[^'']+''::text)\)\)( DESC)?\)$');
  IF m IS NULL THEN RETURN; END IF;
  SELECT indrelid::regclass INTO tbl FROM pg_index WHERE indexrelid = idx;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %s) jsonb_path_ops) WITH (fastupdate = off)',
    left((SELECT relname FROM pg_class WHERE oid = idx), 59) || '_gin', tbl, m[2]);
END $fn$;

CREATE OR REPLACE FUNCTION public.ferretdb_gin_companions() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' LOOP
    BEGIN
      PERFORM public.ferretdb_gin_companion(r.objid::regclass);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'ferretdb_gin_companion(%): %', r.objid, SQLERRM;
    END;
  END LOOP;
END $fn$;

DROP EVENT TRIGGER IF EXISTS ferretdb_gin_companions;
CREATE EVENT TRIGGER ferretdb_gin_companions ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION public.ferretdb_gin_companions();

-- Indexes created before the trigger existed.
SELECT count(public.ferretdb_gin_companion(i.indexrelid::regclass))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
  WHERE a.amname = 'btree' AND pg_get_indexdef(i.indexrelid) LIKE '%(_jsonb -> %';
`;

/** Installs the GIN companions in FerretDB's database of the cluster on `pgPort`. */
function installCompanions(bin, pgPort) {
  const conn = ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', '-d', 'ferretdb'];
  run(join(bin, 'psql'), [...conn, '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'], { input: COMPANION_SQL });
  log(`index companions installed (PostgreSQL on ${pgPort})`);
}

// ---------------------------------------------------------------------------------------------
// FerretDB binary

function binaryVersion() {
  if (!existsSync(FERRET_BIN)) return null;
  const res = spawnSync(FERRET_BIN, ['--version'], { encoding: 'utf8' });
  const match = /version:\s*(\S+)/.exec(res.stdout ?? '');
  return res.status === 0 && match ? match[1] : null;
}

function goVersionOf(goBin) {
  const res = spawnSync(goBin, ['env', 'GOVERSION'], { encoding: 'utf8' });
  const match = /^go(\d+)\.(\d+)/.exec((res.stdout ?? '').trim());
  return res.status === 0 && match ? [Number(match[1]), Number(match[2])] : null;
}

/** A `go` that can build FerretDB v1 (go >= 1.21 fetches the toolchain FerretDB asks for by itself). */
async function ensureGo() {
  for (const candidate of [which('go'), '/usr/local/go/bin/go'].filter(Boolean)) {
    const v = goVersionOf(candidate);
    if (v && (v[0] > 1 || v[1] >= 21)) return candidate;
  }
  const goArch = { x64: 'amd64', arm64: 'arm64' }[arch()];
  if (!goArch) fail(`no usable Go toolchain and no prebuilt one for ${arch()}`);
  const dir = join(CACHE, 'go-toolchain', `${GO_TOOLCHAIN}.linux-${goArch}`);
  const goBin = join(dir, 'bin', 'go');
  if (existsSync(goBin) && goVersionOf(goBin)) return goBin;
  // The Go distribution is published as a Go module (golang.org/toolchain) on the module proxy.
  const proxy = (process.env.GOPROXY || 'https://proxy.golang.org').split(/[,|]/).find((p) => p.startsWith('http')) || 'https://proxy.golang.org';
  const url = `${proxy.replace(/\/$/, '')}/golang.org/toolchain/@v/v0.0.1-${GO_TOOLCHAIN}.linux-${goArch}.zip`;
  log(`no usable Go found; downloading ${url}`);
  const res = await fetch(url);
  if (!res.ok) fail(`download failed: ${res.status} ${res.statusText}`);
  const zip = join(CACHE, 'go-toolchain.zip');
  mkdirSync(dirname(zip), { recursive: true });
  writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
  const unpack = join(CACHE, 'go-toolchain', 'unpack');
  rmSync(unpack, { recursive: true, force: true });
  mkdirSync(unpack, { recursive: true });
  if (which('unzip')) run('unzip', ['-q', zip, '-d', unpack]);
  else if (which('python3')) run('python3', ['-m', 'zipfile', '-e', zip, unpack]);
  else if (IS_ROOT) {
    run('apt-get', ['install', '-y', '-qq', 'unzip'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    run('unzip', ['-q', zip, '-d', unpack]);
  } else fail('need unzip or python3 to unpack the Go toolchain');
  const inner = join(unpack, 'golang.org', `toolchain@v0.0.1-${GO_TOOLCHAIN}.linux-${goArch}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(inner, dir, { recursive: true });
  rmSync(unpack, { recursive: true, force: true });
  rmSync(zip, { force: true });
  // Module zips carry no file modes.
  for (const sub of ['bin', join('pkg', 'tool', `linux_${goArch}`)]) {
    const p = join(dir, sub);
    if (existsSync(p)) for (const f of readdirSync(p)) chmodSync(join(p, f), 0o755);
  }
  if (!goVersionOf(goBin)) fail(`the downloaded Go toolchain in ${dir} does not run`);
  return goBin;
}

/**
 * Like run(), but asynchronous, printing a progress line every ~10 s with the elapsed time: the
 * first FerretDB build downloads modules and compiles for minutes, and silence looks like a hang.
 */
function runWithProgress(label, cmd, args, { env, cwd } = {}) {
  const t0 = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    const ticker = setInterval(() => log(`${label}… ${Math.round((Date.now() - t0) / 1000)} s elapsed`), 10_000);
    child.once('error', (error) => {
      clearInterval(ticker);
      reject(error);
    });
    child.once('close', (status) => {
      clearInterval(ticker);
      if (status === 0) resolvePromise({ status, stdout });
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${status}`));
    });
  });
}

/**
 * Builds FerretDB once into .cache/bin/ferretdb. Not `go install …@version`: (1) it fails when the
 * proxy refuses the module's version list (needed for its deprecation check), and (2) a binary built
 * with FerretDB as the main module panics at start unless build/version/version.txt is present, a
 * file generated by their release tooling. So: download the module, copy it, write version.txt, build.
 */
async function ensureFerretBinary() {
  const have = binaryVersion();
  if (have === FERRET_VERSION) return;
  const t0 = Date.now();
  const goBin = await ensureGo();
  log(`building FerretDB ${FERRET_VERSION} with ${goBin} (first time only; may take a few minutes)…`);
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false', GO111MODULE: 'on' };
  const dl = await runWithProgress('downloading FerretDB modules', goBin, ['mod', 'download', '-json', `${FERRET_MODULE}@${FERRET_VERSION}`], { env, cwd: tmpdir() });
  const moduleDir = JSON.parse(dl.stdout).Dir;
  if (!moduleDir || !existsSync(moduleDir)) fail(`go mod download did not produce ${FERRET_MODULE}@${FERRET_VERSION}`);
  const src = join(CACHE, 'ferretdb-src');
  rmSync(src, { recursive: true, force: true });
  cpSync(moduleDir, src, { recursive: true });
  run('chmod', ['-R', 'u+w', src]);
  writeFileSync(join(src, 'build', 'version', 'version.txt'), `${FERRET_VERSION}\n`);
  mkdirSync(dirname(FERRET_BIN), { recursive: true });
  await runWithProgress('compiling FerretDB', goBin, ['build', '-trimpath', '-o', FERRET_BIN, './cmd/ferretdb'], { env, cwd: src });
  rmSync(src, { recursive: true, force: true });
  const built = binaryVersion();
  if (built !== FERRET_VERSION) fail(`built binary reports version ${built}`);
  log(`FerretDB ${FERRET_VERSION} built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------
// Commands

/** The URI when both FerretDB and its PostgreSQL cluster are running and FerretDB answers ping. */
async function runningUri() {
  const state = readJson(STATE_FILE);
  const pid = readPid(FERRET_PID);
  if (!state?.port || !isFerretProcess(pid)) return null;
  // FerretDB answers ping without its backend: check the cluster's postmaster too.
  if (!state.pgData || !isAlive(readPid(join(state.pgData, 'postmaster.pid')))) return null;
  const uri = uriFor(state.port);
  return (await mongoPing(uri)) ? uri : null;
}

async function start() {
  const t0 = Date.now();
  mkdirSync(CACHE, { recursive: true });
  const already = await runningUri();
  if (already) {
    log(`already running (pid ${readPid(FERRET_PID)})`);
    const pgBin = findPgBin();
    const state = readJson(STATE_FILE);
    if (pgBin && state?.pgPort) installCompanions(pgBin, state.pgPort);
    return already;
  }

  const pgBin = ensurePostgresInstalled();
  const paths = pgPaths(pgBaseDir());
  ensureCluster(pgBin, paths);
  const pgPort = await ensurePostgresRunning(pgBin, paths);
  ensureDatabase(pgBin, pgPort);
  installCompanions(pgBin, pgPort);
  await ensureFerretBinary();

  const stale = readPid(FERRET_PID);
  if (isFerretProcess(stale)) await killAndWait(stale, 'stale FerretDB');

  const state = readJson(STATE_FILE);
  const port = state?.port && (await portFree(state.port)) ? state.port : await pickPort(PREFERRED_PORT, [pgPort]);
  mkdirSync(FERRET_STATE_DIR, { recursive: true });
  const args = [
    '--handler=postgresql',
    `--postgresql-url=postgres://postgres@127.0.0.1:${pgPort}/ferretdb`,
    `--listen-addr=127.0.0.1:${port}`,
    `--state-dir=${FERRET_STATE_DIR}`,
    '--debug-addr=-',
    '--telemetry=disable',
    '--log-level=error',
  ];
  log(`starting FerretDB: ${FERRET_BIN} ${args.join(' ')}`);
  // FerretDB logs every duplicate key at ERROR level: start a new log once it gets large.
  const logTooBig = existsSync(FERRET_LOG) && statSync(FERRET_LOG).size > 10 * 1024 * 1024;
  const out = openSync(FERRET_LOG, logTooBig ? 'w' : 'a');
  const child = spawn(FERRET_BIN, args, {
    cwd: FERRET_STATE_DIR,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, DO_NOT_TRACK: '1' },
  });
  child.unref();
  writeFileSync(FERRET_PID, `${child.pid}\n`);
  writeFileSync(STATE_FILE, `${JSON.stringify({ port, pgPort, pgData: paths.data, version: FERRET_VERSION }, null, 2)}\n`);

  const uri = uriFor(port);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!isAlive(child.pid)) fail(`FerretDB exited during start; see ${FERRET_LOG}`);
    if ((await portOpen(port)) && (await mongoPing(uri))) {
      log(`FerretDB ${FERRET_VERSION} ready on ${uri} (pid ${child.pid}, PostgreSQL on ${pgPort}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return uri;
    }
    await sleep(200);
  }
  fail(`FerretDB did not answer ping within 60 s; see ${FERRET_LOG}`);
}

async function killAndWait(pid, label) {
  log(`stopping ${label} (pid ${pid})`);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 20 && isAlive(pid); i++) await sleep(100);
  }
}

async function stop() {
  const pid = readPid(FERRET_PID);
  if (isFerretProcess(pid)) await killAndWait(pid, 'FerretDB');
  else log('FerretDB is not running');
  rmSync(FERRET_PID, { force: true });

  const pgBin = findPgBin();
  const state = readJson(STATE_FILE);
  const dataDirs = [state?.pgData, pgPaths(join(CACHE, 'pg')).data].filter(Boolean);
  let stopped = false;
  for (const data of new Set(dataDirs)) {
    if (!pgBin || !existsSync(join(data, 'postmaster.pid'))) continue;
    log(`stopping PostgreSQL (${data})`);
    runPg(join(pgBin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'], { allowFail: true });
    stopped = true;
  }
  if (!stopped) log('PostgreSQL is not running');
  rmSync(PG_PID, { force: true });
}

async function main() {
  const command = process.argv[2];
  if (!['start', 'stop', 'uri', 'tune'].includes(command)) {
    console.error('usage: node scripts/ferretdb.mjs start|stop|uri|tune');
    process.exit(2);
  }
  if (command === 'tune') {
    // Works on any of our clusters, also while MONGODB_URI points at it.
    const pgPort = Number(process.env.FERRETDB_PG_PORT) || readJson(STATE_FILE)?.pgPort;
    const pgBin = findPgBin();
    if (!pgPort || !pgBin) fail('no cluster to tune (start one, or set FERRETDB_PG_PORT)');
    installCompanions(pgBin, pgPort);
    return;
  }
  const external = process.env.MONGODB_URI?.trim();
  if (external) {
    console.log(external);
    return;
  }
  if (command === 'start') {
    console.log(await start());
  } else if (command === 'stop') {
    await stop();
  } else {
    const uri = await runningUri();
    if (uri) console.log(uri);
    else {
      log('not running (node scripts/ferretdb.mjs start)');
      process.exit(3);
    }
  }
}

// Also a module: scripts/toxiproxy.mjs builds with the same Go (ensureGo).
export { ensureGo };
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => fail(error?.stack ?? String(error)));
}
