// `npm start`: the API as a plain Node server (same app as the Vercel function), configured by the environment.
import { serve } from '@hono/node-server';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../packages/server/src/env.js';

const { app, logger, store } = createServices(optionsFromEnv(process.env));
const port = Number(process.env.PORT ?? 3000);
const hostname = process.env.HOST ?? '127.0.0.1';
const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
  logger.log('info', 'server.listening', { url: `http://${hostname}:${info.port}`, store: store.kind });
});
server.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE') throw error;
  console.error(`Port ${port} (API) is already in use. Stop the other process or choose another port: PORT=<port>`);
  process.exit(1);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.close(() => store.close().finally(() => process.exit(0))));
}
