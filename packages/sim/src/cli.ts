#!/usr/bin/env node
// The `wlu-wxlogin-sim` command: starts the simulator and prints what a server must set to use it.
import { readFileSync } from 'node:fs';
import { banner, HELP, parseCli, serverEnv, UsageError, type CliOptions } from './cli-options.js';
import { SimPortInUseError, startSimulator } from './server.js';

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`wlu-wxlogin-sim: ${error.message}\nRun "wlu-wxlogin-sim --help" for the flags. / 运行 wlu-wxlogin-sim --help 查看参数。\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  let sim;
  try {
    sim = await startSimulator({ port: options.port, host: options.host, apps: options.apps, seed: options.seed, latencyMs: options.latencyMs });
  } catch (error) {
    if (!(error instanceof SimPortInUseError)) throw error;
    if (options.json) process.stdout.write(`${JSON.stringify({ error: 'EADDRINUSE', port: error.port })}\n`);
    process.stderr.write(`wlu-wxlogin-sim: port ${error.port} is already in use. Stop the other process or choose another: --port <n>\n端口 ${error.port} 已被占用：请结束占用它的进程，或用 --port 换一个端口。\n`);
    return 1;
  }
  const bases = options.publicUrl ? { ...sim.bases, openBase: options.publicUrl } : sim.bases;
  process.stdout.write(
    options.json ? `${JSON.stringify({ url: sim.url, bases, env: serverEnv(bases, options.apps), apps: options.apps, latencyMs: options.latencyMs })}\n` : `${banner(sim.url, bases, options.apps, options.latencyMs)}\n`,
  );
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1; // keep serving
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`wlu-wxlogin-sim: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
