// Cold-start launcher: a fresh Node process that imports a BUILT Vercel function (the `handler`
// file of a .func directory, whose default export has `fetch`) and serves it over node:http with
// a minimal adapter (no extra dependencies, so both functions pay the same). Prints the port when
// listening (with the ms from process start to the end of the import); after each response, prints
// whether the MongoDB driver has been loaded (unbundled: in require.cache; bundled: the product's
// store module registers its client cache on globalThis when it creates a client).
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const mod = await import(pathToFileURL(process.argv[2]).href);
const importMs = performance.now();
const handler = mod.default;
const require = createRequire(import.meta.url);
const driverLoaded = () =>
  Object.keys(require.cache).some((k) => k.includes('/node_modules/mongodb/')) || globalThis[Symbol.for('wechat-login.mongoClients')] !== undefined;
const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  const response = await handler.fetch(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers: req.headers, body }));
  const bytes = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(bytes);
  process.stdout.write(`${JSON.stringify({ served: req.url, status: response.status, mongodbLoaded: driverLoaded() })}\n`);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port, importMs })}\n`));
