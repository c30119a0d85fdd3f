/** Starts client/tests/support/stack-server.ts (tests/support/stack.ts) in a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './build.js';

export interface StackHandle {
  apiUrl: string;
  simUrl: string;
  appid: string;
  /** the website (QR login) app registered with the simulator */
  webAppid: string | null;
  /** the official account (web authorization inside WeChat) registered with the simulator */
  oaAppid: string | null;
  close(): Promise<void>;
}

/** `options`: StackOptions as JSON-able values (e.g. { domains, simPublicHost }) */
export function startStackProcess(options?: Record<string, unknown>): Promise<StackHandle> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'client/tests/support/stack-server.ts')], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', ...(options ? { STACK_OPTIONS: JSON.stringify(options) } : {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`stack did not start in 60 s\n${err}`)), 60_000);
    function fail(error: Error) {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(error);
    }
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', fail);
    child.on('exit', (code) => {
      if (!out.includes('\n')) fail(new Error(`stack exited (${code}) before it was ready\n${err}`));
    });
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (!out.includes('\n') || !line) return;
      clearTimeout(timer);
      const info = JSON.parse(line) as Omit<StackHandle, 'close'>;
      resolve({
        ...info,
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.stdin!.end();
            setTimeout(() => child.kill('SIGTERM'), 5_000).unref();
          }),
      });
    });
  });
}
