// The simulator as a host runs it: the `wlu-wxlogin-sim` bin of packages/sim (built JavaScript,
// plain node). `npm install` builds it (the package's `prepare`); this rebuilds it when its source
// changed since, so `npm run dev` and the tests never run a stale bin.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
export const SIM_PACKAGE = join(ROOT, 'packages/sim');

/** The bin's file, as the package declares it (`bin` in packages/sim/package.json). */
export function simBinPath(): string {
  const pkg = JSON.parse(readFileSync(join(SIM_PACKAGE, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return join(SIM_PACKAGE, pkg.bin['wlu-wxlogin-sim']!);
}

function newestSource(): number {
  const files = [
    ...readdirSync(join(SIM_PACKAGE, 'src')).map((f) => join(SIM_PACKAGE, 'src', f)),
    join(SIM_PACKAGE, 'build.mjs'),
    join(SIM_PACKAGE, 'package.json'),
    join(ROOT, 'shared/oauth.ts'),
  ];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/** Builds packages/sim/dist when it is missing or older than its source. */
export function ensureSimBuilt(): string {
  const bin = simBinPath();
  if (existsSync(bin) && statSync(bin).mtimeMs >= newestSource()) return bin;
  const res = spawnSync(process.execPath, [join(SIM_PACKAGE, 'build.mjs')], { cwd: SIM_PACKAGE, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`building the simulator (packages/sim) failed:\n${res.stderr}${res.stdout}`);
  return bin;
}

/** A running `wlu-wxlogin-sim` process. */
export interface SimProcess {
  url: string;
  /** what the bin printed with --json: bases, env, apps */
  info: { url: string; bases: { apiBase: string; openBase: string; mpBase: string }; env: Record<string, string> };
  close(): Promise<void>;
}

/** The bin refused to listen on its port (another process has it). */
export class SimPortBusy extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is already in use`);
  }
}

/** Runs the bin with `args` (plus --json) and resolves once it listens. */
export function spawnSimulator(args: string[], timeoutMs = 30_000): Promise<SimProcess> {
  const child = spawn(process.execPath, [ensureSimBuilt(), ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  let out = '';
  let err = '';
  return new Promise((done, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      kill();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`the simulator did not start within ${timeoutMs / 1000} s\n${err}`)), timeoutMs);
    child.stderr!.on('data', (d) => (err += d));
    // 'close': after its output was read, so a refusal printed just before exiting is seen first
    child.on('close', (code) => fail(new Error(`the simulator exited (${code}): ${err.trim()}`)));
    const onData = (d: Buffer) => {
      out += d;
      if (!out.includes('\n')) return;
      child.stdout!.off('data', onData);
      clearTimeout(timer);
      let line: SimProcess['info'] & { error?: string; port?: number };
      try {
        line = JSON.parse(out.split('\n')[0]!);
      } catch {
        return fail(new Error(`the simulator printed something other than its --json line: ${out}`));
      }
      if (line.error === 'EADDRINUSE') return fail(new SimPortBusy(line.port!));
      child.removeAllListeners('close');
      child.stdout!.resume();
      // from now on its warnings are ours, and an unexpected end is said out loud
      child.stderr!.removeAllListeners('data');
      child.stderr!.pipe(process.stderr);
      let closing = false;
      child.once('close', (code, signal) => {
        if (!closing) process.stderr.write(`\n  The WeChat simulator (wlu-wxlogin-sim) stopped (${signal ?? code}). 微信模拟器已退出。\n`);
      });
      done({
        url: line.url,
        info: line,
        close: () =>
          new Promise<void>((closed) => {
            closing = true;
            process.off('exit', kill);
            if (child.exitCode !== null || child.signalCode !== null) return closed();
            child.once('exit', () => closed());
            kill();
          }),
      });
    };
    child.stdout!.on('data', onData);
  });
}
