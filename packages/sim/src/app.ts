import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { controlApi } from './control.js';
import { miniApi } from './mini.js';
import { phoneApi, securityApi } from './phone.js';
import { tokenApi } from './tokens.js';
import { SimState, type SimApp } from './state.js';
import { webApi } from './web.js';
import { oaApi } from './oa.js';
import { oaServerApi } from './oa-server.js';
import { phoneLinkApi } from './phone-link.js';

export interface SimulatorOptions {
  apps: SimApp[];
  /** secret for deriving openids/unionids; fixed → stable ids across restarts */
  seed?: string;
  clock?: () => number;
  /**
   * Milliseconds every WeChat answer waits before it is sent (a production-like distance to WeChat:
   * network + WeChat's own time). The `/__sim` control endpoints are never delayed. @default 0
   */
  latencyMs?: number;
}

/** Checks a latency setting: a whole number of milliseconds, 0–60000. */
export function checkLatencyMs(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 60_000) throw new RangeError(`latencyMs must be a whole number of milliseconds 0-60000 (got ${value})`);
  return value;
}

/** A local stand-in for WeChat's servers (api.weixin.qq.com) plus control endpoints under /__sim. */
export function createSimulator(options: SimulatorOptions) {
  const state = new SimState(options.seed ?? randomBytes(16).toString('hex'), options.clock);
  for (const app of options.apps) state.addApp(app);
  const app = new Hono();
  const latencyMs = checkLatencyMs(options.latencyMs ?? 0);
  if (latencyMs) {
    // before every route: WeChat's answers (API and pages) arrive this much later; /__sim is the test's own channel
    app.use('*', async (c, next) => {
      if (c.req.path !== '/__sim' && !c.req.path.startsWith('/__sim/')) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      await next();
    });
  }
  app.route('/', miniApi(state));
  app.route('/', tokenApi(state));
  app.route('/', phoneApi(state));
  app.route('/', securityApi(state));
  app.route('/', webApi(state));
  app.route('/', oaApi(state));
  app.route('/', oaServerApi(state));
  app.route('/__sim', controlApi(state));
  // development: "open as the phone" for the QR on the PC login card (client/components/DevPhoneLink.vue)
  app.get('/__sim/phone', phoneLinkApi(state, app));
  // Browsers ask for it on every simulator page; answer "no icon" rather than WeChat's JSON 404.
  app.get('/favicon.ico', (c) => c.body(null, 204, { 'cache-control': 'max-age=86400' }));
  app.notFound((c) => c.body(JSON.stringify({ errcode: 40066, errmsg: 'invalid url' }), 200, { 'content-type': 'text/plain' }));
  return { app, state };
}
