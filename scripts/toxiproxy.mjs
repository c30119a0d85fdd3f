#!/usr/bin/env node
// Toxiproxy (github.com/Shopify/toxiproxy), a TCP proxy that injects network faults (latency,
// a blackhole, closed connections), for tests that put a real network hop between the API and its
// database (tests/db-hop.test.ts, docs/BENCH.md "One hop away").
//
//   node scripts/toxiproxy.mjs build   builds .cache/bin/toxiproxy-server once (Go from the module proxy)
//   node scripts/toxiproxy.mjs start   runs a server on 127.0.0.1 (a free port) until killed; prints its API URL
//
// As a module: startToxiproxy() → { api, stop(), proxy(name, upstream) } where a proxy has
// latency(ms), cut()/heal() (bytes dropped, connections closed on heal), down()/up() (connections closed, refused) and remove(). Everything listens on 127.0.0.1 only.
// Environment: TOXIPROXY_VERSION (default v2.12.0).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGo } from './ferretdb.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = process.env.TOXIPROXY_VERSION || 'v2.12.0';
const BIN = join(ROOT, '.cache', 'bin', 'toxiproxy-server');
const log = (...args) => console.error('[toxiproxy]', ...args);

function binaryVersion() {
  if (!existsSync(BIN)) return null;
  const res = spawnSync(BIN, ['-version'], { encoding: 'utf8' });
  return /(v?\d+\.\d+\.\d+)/.exec(`${res.stdout}${res.stderr}`)?.[1] ?? null;
}

/** Builds the server once (`go install …/cmd/server@VERSION` into a private GOBIN). */
export async function ensureToxiproxy() {
  const have = binaryVersion();
  if (have && `v${have.replace(/^v/, '')}` === VERSION) return BIN;
  const go = await ensureGo();
  const gobin = join(ROOT, '.cache', 'toxiproxy-build');
  rmSync(gobin, { recursive: true, force: true });
  mkdirSync(gobin, { recursive: true });
  log(`building Toxiproxy ${VERSION} with ${go} (first time only)…`);
  const t0 = Date.now();
  const res = spawnSync(go, ['install', '-trimpath', `-ldflags=-X github.com/Shopify/toxiproxy/v2.Version=${VERSION.replace(/^v/, '')}`, `github.com/Shopify/toxiproxy/v2/cmd/server@${VERSION}`], {
    cwd: tmpdir(),
    env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false', GO111MODULE: 'on' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (res.status !== 0) throw new Error(`go install toxiproxy ${VERSION} failed (exit ${res.status})`);
  mkdirSync(dirname(BIN), { recursive: true });
  renameSync(join(gobin, 'server'), BIN);
  rmSync(gobin, { recursive: true, force: true });
  log(`Toxiproxy ${VERSION} built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return BIN;
}

function freePort() {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function call(api, method, path, body) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`toxiproxy ${method} ${path} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Starts a Toxiproxy server on a free loopback port; stop() kills it. */
export async function startToxiproxy() {
  const bin = await ensureToxiproxy();
  const port = await freePort();
  const child = spawn(bin, ['-host', '127.0.0.1', '-port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const api = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`toxiproxy exited (${child.exitCode}): ${stderr}`);
    try {
      await call(api, 'GET', '/version');
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`toxiproxy did not answer within 10 s: ${error}\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    api,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
    /** A proxy from a free loopback port to `upstream` (host:port); resolves with its listen address. */
    async proxy(name, upstream) {
      const created = await call(api, 'POST', '/proxies', { name, listen: '127.0.0.1:0', upstream, enabled: true });
      const base = `/proxies/${encodeURIComponent(name)}`;
      const removeToxic = (toxic) => call(api, 'DELETE', `${base}/toxics/${toxic}`).catch(() => {});
      const addToxic = (toxic) => call(api, 'POST', `${base}/toxics`, toxic);
      return {
        listen: created.listen,
        /** `ms` of added latency in EACH direction (0 removes it) */
        async latency(ms) {
          await removeToxic('latency_up');
          await removeToxic('latency_down');
          if (!ms) return;
          await addToxic({ name: 'latency_up', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: ms, jitter: 0 } });
          await addToxic({ name: 'latency_down', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: ms, jitter: 0 } });
        },
        /**
         * The database unreachable without a word: every byte either way is dropped and no
         * connection is closed (a `timeout` toxic with timeout 0), until heal(). New connections are
         * accepted and hear nothing, as behind a dead router. Nothing sent meanwhile ever arrives:
         * Toxiproxy drops it ("Drop the data on the ground", toxics/timeout.go), and removing the
         * toxic closes every connection that went through it (its Cleanup; Shopify/toxiproxy#168) —
         * after heal() the client must open new connections, as after a partition that outlived TCP.
         */
        async cut() {
          await addToxic({ name: 'cut_up', type: 'timeout', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } });
          await addToxic({ name: 'cut_down', type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } });
        },
        async heal() {
          await removeToxic('cut_up');
          await removeToxic('cut_down');
        },
        /** The database gone: every connection closed, new ones refused (the proxy disabled), until up(). */
        down: () => call(api, 'POST', base, { enabled: false }),
        up: () => call(api, 'POST', base, { enabled: true }),
        remove: () => call(api, 'DELETE', base).catch(() => {}),
      };
    },
  };
}

async function main() {
  const command = process.argv[2];
  if (command === 'build') {
    console.log(await ensureToxiproxy());
  } else if (command === 'start') {
    const server = await startToxiproxy();
    console.log(server.api);
    const stop = () => void server.stop().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } else {
    console.error('usage: node scripts/toxiproxy.mjs build|start');
    process.exit(2);
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    log(`error: ${error?.stack ?? error}`);
    process.exit(1);
  });
}
