// Hello-world Hono on @hono/node-server, three ways, to price an `/api/*` middleware:
//   /plain/*  no middleware
//   /after/*  a middleware that sets a header AFTER `await next()` (what api/_lib/http/app.ts did)
//   /before/* the same header set BEFORE `await next()` (what it does now)
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.use('/after/*', async (c, next) => {
  await next();
  c.header('x-content-type-options', 'nosniff');
});
app.use('/before/*', async (c, next) => {
  c.header('x-content-type-options', 'nosniff');
  await next();
});
for (const prefix of ['plain', 'after', 'before']) app.get(`/${prefix}/hello`, (c) => c.json({ hello: 'world' }));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${info.port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
