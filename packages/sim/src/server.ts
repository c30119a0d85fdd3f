import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createSimulator, type SimulatorOptions } from './app.js';
import type { SimState } from './state.js';

export interface StartSimulatorOptions extends SimulatorOptions {
  /** TCP port; 0 = any free port. @default 3100 */
  port?: number;
  /** interface to listen on. @default '127.0.0.1' */
  host?: string;
}

/** The three WeChat hosts a server calls, all played by the simulator at `url`. */
export interface WechatBases {
  /** api.weixin.qq.com — server option `wechat.apiBase`, env WECHAT_API_BASE */
  apiBase: string;
  /** open.weixin.qq.com (browser-facing QR / authorize pages) — `wechat.openBase`, env WECHAT_OPEN_BASE */
  openBase: string;
  /** mp.weixin.qq.com (showqrcode) — `wechat.mpBase`, env WECHAT_MP_BASE */
  mpBase: string;
}

export interface RunningSimulator {
  /** where it listens, e.g. http://127.0.0.1:3100 */
  url: string;
  port: number;
  /** what a server must set to call the simulator instead of WeChat */
  bases: WechatBases;
  /** the simulated WeChat (apps, people, codes, tokens, calls) for tests */
  state: SimState;
  close(): Promise<void>;
}

/** A port the simulator cannot listen on because something else does. */
export class SimPortInUseError extends Error {
  readonly code = 'EADDRINUSE';
  constructor(readonly port: number) {
    super(`Port ${port} is already in use (WeChat simulator)`);
    this.name = 'SimPortInUseError';
  }
}

/** Every WeChat base URL pointed at one simulator origin. */
export function wechatBases(url: string): WechatBases {
  const base = url.replace(/\/+$/, '');
  return { apiBase: base, openBase: base, mpBase: base };
}

/** Creates the simulator and serves it over HTTP (what the CLI runs). */
export function startSimulator(options: StartSimulatorOptions): Promise<RunningSimulator> {
  const { port = 3100, host = '127.0.0.1', ...simOptions } = options;
  const sim = createSimulator(simOptions);
  return new Promise((resolve, reject) => {
    const server: ServerType = serve({ fetch: sim.app.fetch, port, hostname: host }, (info: AddressInfo) => {
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`;
      resolve({
        url,
        port: info.port,
        bases: wechatBases(url),
        state: sim.state,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? new SimPortInUseError(port) : error));
  });
}
