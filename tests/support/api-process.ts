import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface ApiProcessOptions {
  mini: { appid: string; secret: string };
  oa: { appid: string; secret: string };
  /** the simulator, as the server calls it */
  simUrl: string;
  /** the simulator's browser-facing origin (open.weixin.qq.com's stand-in); default simUrl */
  openBase?: string;
  mongodbUri: string;
  mongodbDb: string;
  /** 32-byte seal key; every process of one test must share it */
  sealKey: Buffer;
  timeoutMs?: number;
  /** more environment (e.g. rate limits on), over the defaults below */
  env?: Record<string, string>;
}

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  /** every line the process wrote so far (stdout and stderr) */
  lines: string[];
}

/**
 * One API process as `npm start` runs it (scripts/serve.ts) on a shared MongoDB, for tests of what
 * crosses processes (PC login: the phone on one process, the PC on another). Resolves with its URL
 * once it logs `server.listening`; the caller kills `child` when done.
 */
export function startApiProcess(options: ApiProcessOptions): Promise<ApiProcess> {
  const env = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    WECHAT_MINI_APPID: options.mini.appid,
    WECHAT_MINI_SECRET: options.mini.secret,
    WECHAT_OA_APPID: options.oa.appid,
    WECHAT_OA_SECRET: options.oa.secret,
    WECHAT_API_BASE: options.simUrl,
    WECHAT_API_FAILOVER: '',
    WECHAT_OPEN_BASE: options.openBase ?? options.simUrl,
    MONGODB_URI: options.mongodbUri,
    MONGODB_DB: options.mongodbDb,
    SESSION_KEY_ENCRYPTION_KEYS: `k1:${options.sealKey.toString('base64')}`,
    RATE_LIMIT_PER_ADDRESS: '0',
    RATE_LIMIT_PER_APPID: '0',
    PORT: '0',
    HOST: '127.0.0.1',
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/serve.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let out = '';
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((done, reject) => {
    const timer = setTimeout(() => reject(new Error(`API did not listen within ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      const line = out.split('\n').find((l) => l.includes('"server.listening"'));
      if (line) {
        clearTimeout(timer);
        done({ url: JSON.parse(line).url as string, child, lines });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`API exited with ${code}:\n${out}`)));
  });
}
