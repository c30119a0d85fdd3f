// Cold-start launcher: a fresh Node process that imports a BUILT Vercel function (the `handler`
// file of a .func directory, whose default export has `fetch`) and serves it over node:http with
// a minimal adapter (no extra dependencies, so both functions pay the same). Prints the port when
// listening (with the ms from process start to the end of the import); after each response, prints
// whether the MongoDB driver has been loaded (unbundled: in require.cache; bundled: the product's
// store module registers its client cache on globalThis when it creates a client).
//
// COLD_TRACE=1 (bench/cold-login.ts's breakdown runs): also prints a timeline of the request, in ms
// since this process started, observed from OUTSIDE the function so any build can be traced (the
// "before" commit too): Node's diagnostics channels for the WeChat call (node:http client) and the
// database sockets, and the MongoDB driver's own events on the client the product caches on
// globalThis (monitor heartbeat, pool connection, commands by name — no values, no secrets).
import diagnostics from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const CLIENTS = Symbol.for('wechat-login.mongoClients');
const trace = process.env.COLD_TRACE === '1' ? [] : null;
const mark = (event) => trace?.push([event, performance.now()]);
mark('launcher');
if (trace) {
  const dbPort = Number(new URL((process.env.MONGODB_URI ?? 'mongodb://x:27017').replace(/^mongodb(\+srv)?:/, 'http:')).port || 27017);
  diagnostics.subscribe('http.client.request.start', () => mark('wechat.request'));
  diagnostics.subscribe('http.client.response.finish', () => mark('wechat.response'));
  let sockets = 0;
  diagnostics.subscribe('net.client.socket', ({ socket }) => {
    const n = ++sockets;
    socket.once('connect', () => {
      if (socket.remotePort === dbPort) mark(`db.socket${n}.connected`);
    });
  });
  // The product's process-wide client cache (packages/server/src/store/mongo.ts getMongoClient):
  // a Map the product keeps (`??=`) — each client is observed from its creation on.
  globalThis[CLIENTS] = new (class extends Map {
    set(uri, pending) {
      mark('driver.client');
      void pending.then((client) => {
        client.monitorCommands = true;
        client.on('serverHeartbeatStarted', () => mark('db.monitor.hello'));
        client.on('serverHeartbeatSucceeded', () => mark('db.monitor.ok'));
        client.on('connectionCreated', () => mark('db.pool.connection'));
        client.on('connectionReady', () => mark('db.pool.ready'));
        client.on('commandStarted', (e) => mark(`db.${e.commandName} ${typeof e.command[e.commandName] === 'string' ? e.command[e.commandName] : ''}`.trim() + '.start'));
        client.on('commandSucceeded', (e) => mark(`db.${e.commandName}.end`));
        client.on('commandFailed', (e) => mark(`db.${e.commandName}.failed`));
      }, () => {});
      return super.set(uri, pending);
    }
  })();
}

const mod = await import(pathToFileURL(process.argv[2]).href);
const importMs = performance.now();
mark('imported');
const handler = mod.default;
const require = createRequire(import.meta.url);
const driverLoaded = () =>
  Object.keys(require.cache).some((k) => k.includes('/node_modules/mongodb/')) || (globalThis[CLIENTS]?.size ?? 0) > 0;
const server = createServer(async (req, res) => {
  mark('request');
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  const response = await handler.fetch(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers: req.headers, body }));
  const bytes = Buffer.from(await response.arrayBuffer());
  mark('response');
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(bytes);
  process.stdout.write(`${JSON.stringify({ served: req.url, status: response.status, mongodbLoaded: driverLoaded(), ...(trace ? { trace } : {}) })}\n`);
  // COLD_EXIT=1: exit after the first response (so `node --cpu-prof` writes its profile)
  if (process.env.COLD_EXIT === '1') res.on('finish', () => process.exit(0));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port, importMs })}\n`));
