import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createSimulator } from '../../packages/sim/src/app.js';

/** A strict WeChat simulator on a random port with one mini-program, for hosts built from options. */
export interface SimServer {
  url: string;
  app: { appid: string; secret: string };
  /** wx.login on a simulated phone: a fresh code for `user` */
  code(user: string): Promise<string>;
  close(): void;
}

/** wx.login on a simulated phone: a fresh code of mini-program `appid` for `user`, from the simulator at `simUrl`. */
export async function simCodeAt(simUrl: string, appid: string, user: string): Promise<string> {
  const res = await fetch(`${simUrl}/__sim/mini/code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid, user }) });
  if (!res.ok) throw new Error(`simulator refused a code: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { code: string }).code;
}

export async function startSim(appid = `wx${randomBytes(8).toString('hex')}`): Promise<SimServer> {
  const app = { appid, secret: randomBytes(16).toString('hex') };
  const sim = createSimulator({ apps: [{ ...app, openPlatformId: `op-${appid}` }] });
  let server!: ServerType;
  const url = await new Promise<string>((resolve) => {
    server = serve({ fetch: sim.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(`http://127.0.0.1:${info.port}`));
  });
  return {
    url,
    app,
    code: (user) => simCodeAt(url, appid, user),
    close: () => void server.close(),
  };
}
