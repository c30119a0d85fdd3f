// Shared pieces of the benchmark: a keep-alive HTTP client, CPU time from /proc, child servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';

/** A numeric knob from the environment (BENCH_*, HOP_*), else `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const value = process.env[name];
  if (!value) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number (got ${JSON.stringify(value)})`);
  return n;
}

/**
 * Rate limits stay ON (their local counting and background sync are part of the product's cost) but
 * high enough that a benchmark from one address is never refused.
 */
/** The PC-login benches' API environment: no WeChat is called (the phone's scan is written directly), no limits. */
export const PC_BENCH_ENV = {
  NODE_ENV: 'test',
  WECHAT_MINI_APPID: 'wxd0c0ffee00000001',
  WECHAT_MINI_SECRET: '0'.repeat(32),
  WECHAT_API_BASE: 'http://127.0.0.1:9',
  WECHAT_API_FAILOVER: '',
  RATE_LIMIT_PER_ADDRESS: '0',
  RATE_LIMIT_PER_APPID: '0',
  PC_EVENTS_STREAM_MS: '25000',
};

/** The `name=value` of the cookie `name` a response sets. */
export const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().map((l) => l.split(';')[0]!).find((p) => p.startsWith(`${name}=`))!;

export const BENCH_LIMITS = { RATE_LIMIT_PER_ADDRESS: '1000000', RATE_LIMIT_PER_APPID: '10000000' };

/** One client for every target: the same sockets, the same parsing cost on both sides. */
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

export interface HttpResult {
  status: number;
  body: string;
}

export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<HttpResult> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? (body ? 'POST' : 'GET'), headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function json<T>(url: string, options: Parameters<typeof request>[1] = {}): Promise<T> {
  const res = await request(url, options);
  if (res.status !== 200) throw new Error(`${options.method ?? 'GET'} ${url} → ${res.status} ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body) as T;
}

export interface PoolResult {
  /** latency (ms) of every call that succeeded */
  latencies: number[];
  seconds: number;
  /** calls that failed (a dropped connection: `socket hang up`, ECONNRESET; or a wrong answer) */
  errors: number;
  /** the first few failures' messages, for the report */
  firstErrors: string[];
}

/**
 * Runs `items` through `fire` with `concurrency` workers; returns each successful call's latency (ms).
 * A call that fails is counted in `errors` and the run goes on: under load a keep-alive socket the
 * server just closed, or one reset by a busy machine, fails one request, not the benchmark. More
 * failures than `maxErrorRate` of the calls (default 1 %; 0 = none allowed) is a broken run, not a
 * noisy one: pool then rejects, naming the first failures.
 */
export async function pool<T>(
  items: T[],
  concurrency: number,
  fire: (item: T) => Promise<void>,
  options: { maxErrorRate?: number } = {},
): Promise<PoolResult> {
  const latencies: number[] = [];
  const firstErrors: string[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const t = performance.now();
        try {
          await fire(item);
          latencies.push(performance.now() - t);
        } catch (error) {
          errors++;
          if (firstErrors.length < 5) firstErrors.push(error instanceof Error ? error.message : String(error));
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (errors > (options.maxErrorRate ?? 0.01) * items.length) {
    throw new Error(`${errors} of ${items.length} calls failed (more than a noisy run's share), first: ${firstErrors.join(' | ')}`);
  }
  return { latencies, seconds, errors, firstErrors };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 0.5);

// ---------------------------------------------------------------------------------------------
// CPU time (Linux /proc). Clock ticks are 1/100 s on Linux (USER_HZ).

const TICK_MS = 10;

function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, ppid 4, utime 14, stime 15, cutime 16, cstime 17.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU (ms) of one process; with `children`, plus its waited-for children's. */
export function cpuMs(pid: number, children = false): number {
  const f = statFields(pid);
  if (!f) return 0;
  const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
  return ticks * TICK_MS;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/**
 * The database's processes behind `mongoUri` when it is our FerretDB: the FerretDB process
 * listening on the URI's port, and the PostgreSQL cluster it uses (postmaster + backends).
 * Returns null when they cannot be found (e.g. a remote MongoDB): DB CPU is then not reported.
 */
export function findDbProcesses(mongoUri: string): { ferret: number; postmaster: number; pgPort: number } | null {
  const port = new URL(mongoUri.replace(/^mongodb(\+srv)?:/, 'http:')).port || '27017';
  for (const pid of allPids()) {
    const cmd = cmdline(pid);
    if (!cmd.includes('ferretdb') || !cmd.includes(`--listen-addr=`) || !new RegExp(`--listen-addr=\\S*:${port}\\b`).test(cmd)) continue;
    const pgPort = /--postgresql-url=\S*:(\d+)\//.exec(cmd)?.[1];
    if (!pgPort) continue;
    const postmaster = allPids().find((p) => {
      const c = cmdline(p);
      return /(^|\/)postgres\s/.test(c) && new RegExp(`-p ${pgPort}\\b`).test(c);
    });
    if (postmaster) return { ferret: pid, postmaster, pgPort: Number(pgPort) };
  }
  return null;
}

/**
 * CPU ms used so far by FerretDB + the whole PostgreSQL cluster. A backend that exits moves its
 * time into the postmaster's "children" counters, so the sum stays consistent between samples.
 * Note: the cluster is shared; anything else using it at the same time is counted too.
 */
export function dbCpuMs(db: { ferret: number; postmaster: number }): number {
  let total = cpuMs(db.ferret) + cpuMs(db.postmaster, true);
  for (const pid of allPids()) {
    const f = statFields(pid);
    if (f && Number(f[1]) === db.postmaster) total += cpuMs(pid);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Child servers: each prints one JSON line `{"url": ...}` on stdout when it is listening.

export interface ChildServer {
  url: string;
  pid: number;
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startChild(script: string, env: Record<string, string | undefined>, args: string[] = []): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
    lines.once('line', (line) => resolve(JSON.parse(line)));
  });
  return {
    url: String(info.url),
    pid: child.pid!,
    info,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
