// The product's API (the same composition root as api/index.ts) in its own process, on MongoDB.
// GET /__bench/stats answers the MongoDB commands this process has sent (driver command
// monitoring: one commandStarted event per command on the wire).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { silentLogger } from '../packages/server/src/log.js';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../packages/server/src/env.js';
import { getMongoClient } from '../packages/server/src/store/mongo.js';

// monitorCommands is a public connection-string option; the store then uses the process-wide
// cached client for exactly this URI, which we subscribe to here.
const base = process.env.MONGODB_URI!;
const uri = `${base}${base.includes('?') ? '&' : '?'}monitorCommands=true`;
process.env.MONGODB_URI = uri;
const client = await getMongoClient(uri);
const byName: Record<string, number> = {};
let commands = 0;
// The rate limiter's counter sync (rate_counters: one bulk write + one read, at most once a second per
// instance, whatever the traffic) runs in the background, on no request's path: counted apart.
let background = 0;
client.on('commandStarted', (event) => {
  if (String(event.command[event.commandName]) === 'rate_counters') {
    background++;
    return;
  }
  commands++;
  byName[event.commandName] = (byName[event.commandName] ?? 0) + 1;
});

const { app } = createServices(optionsFromEnv(process.env), { logger: silentLogger });
const stats = () => Response.json({ commands, byName, background });
const server = serve(
  { fetch: (req) => (new URL(req.url).pathname === '/__bench/stats' ? stats() : app.fetch(req)), port: 0, hostname: '127.0.0.1' },
  (info: AddressInfo) => console.log(JSON.stringify({ url: `http://127.0.0.1:${info.port}` })),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
