import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PortInUseError } from '../scripts/lib/stack.js';
import { startStack } from './support/stack.js';

/** Issue 10, first hour: a busy port names the port and the variable that moves it. */
const servers: Server[] = [];
const dir = mkdtempSync(join(tmpdir(), 'ports-'));
afterAll(() => {
  servers.forEach((s) => s.close());
  rmSync(dir, { recursive: true, force: true });
});

async function busyPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

function run(script: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', script, '--no-h5'], {
    env: { ...process.env, DATA_DIR: dir, HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('a busy port', () => {
  it('npm run dev: names the API port and PORT, exits 1 without a stack trace', { timeout: 90_000 }, async () => {
    const port = await busyPort();
    const res = run('scripts/dev.ts', { PORT: String(port), WECHAT_SIM_PORT: '0' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(`Port ${port} (API) is already in use`);
    expect(res.stderr).toContain('PORT=<port>');
    expect(res.stderr).not.toMatch(/EADDRINUSE|at Server\./);
  });

  it('npm run dev: the simulator bin on a busy port names WECHAT_SIM_PORT, exits 1 without a stack trace', { timeout: 90_000 }, async () => {
    const port = await busyPort();
    const res = run('scripts/dev.ts', { PORT: '0', WECHAT_SIM_PORT: String(port) });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(`Port ${port} (WeChat simulator) is already in use`);
    expect(res.stderr).toContain('WECHAT_SIM_PORT=<port>');
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('test stacks: names the simulator port and WECHAT_SIM_PORT', async () => {
    const port = await busyPort();
    const error = await startStack({ simPort: port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortInUseError);
    expect((error as Error).message).toContain(`Port ${port} (WeChat simulator)`);
    expect((error as Error).message).toContain('WECHAT_SIM_PORT=<port>');
  });

  it('npm start: names the port and PORT', { timeout: 90_000 }, async () => {
    const port = await busyPort();
    const res = run('scripts/serve.ts', { PORT: String(port) });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(`Port ${port} (API) is already in use`);
    expect(res.stderr).toContain('PORT=<port>');
  });
});
