// One API process on its own (a second "instance", or a cold start): createServices from the
// environment this process was given, served on a random port. Prints one JSON line {"apiUrl"} when
// listening; exits when stdin closes. Used by tests/oa-push-processes.test.ts.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createServices } from '../../packages/server/src/main.js';
import { optionsFromEnv } from '../../packages/server/src/env.js';
import { createLogger } from '../../packages/server/src/log.js';

const services = createServices(optionsFromEnv(process.env), { logger: createLogger((line) => process.stderr.write(line + '\n'), 'info') });
const server = serve({ fetch: services.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  process.stdout.write(JSON.stringify({ apiUrl: `http://127.0.0.1:${info.port}` }) + '\n');
});

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  server.close();
  services.stop();
  await services.store.close().catch(() => {});
  process.exit(0);
}
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
