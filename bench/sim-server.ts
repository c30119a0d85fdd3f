// The WeChat simulator in its own process, so its CPU is not charged to either API under test.
// BENCH_SIM_LATENCY_MS delays every WeChat answer (the simulator's latencyMs; default 0).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createSimulator } from '../packages/sim/src/app.js';

const appid = process.env.BENCH_APPID!;
const secret = process.env.BENCH_SECRET!;
const sim = createSimulator({ apps: [{ appid, secret, openPlatformId: 'open-platform-bench' }], seed: process.env.BENCH_SIM_SEED ?? 'bench', latencyMs: Number(process.env.BENCH_SIM_LATENCY_MS ?? 0) });
const server = serve({ fetch: sim.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${info.port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
