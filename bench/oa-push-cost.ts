// What hostile pushes to /api/auth/oa/push cost other people's logins (issue 18 §4, docs/SECURITY.md
// "Push endpoint cost"). One process: API + WeChat simulator + load, in-memory store. Three phases:
//   1. logins alone (concurrency 4),
//   2. the same logins while ONE client on ONE keep-alive connection sends unsigned 64 KiB bodies of
//      unterminated <![CDATA[ back to back (the attack: login p95 30 → 658 ms before),
//   3. 1,000 such pushes alone: CPU per push of this whole process (client + server).
// Short on purpose (~10 s). Run: npx tsx bench/oa-push-cost.ts   (prints a Markdown table)
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { silentLogger } from '../packages/server/src/log.js';
import { MAX_PUSH_BYTES } from '../packages/server/src/wechat/push/xml.js';
import { startStack } from '../scripts/lib/stack.js';
import { percentile, pool, request } from './lib.js';

const LOGINS = Number(process.env.LOGINS ?? 300);
const HOSTILE = 1_000;

const stack = await startStack({
  oa: true,
  env: {
    NODE_ENV: 'test',
    RATE_LIMIT_PER_ADDRESS: '1000000',
    RATE_LIMIT_PER_APPID: '1000000',
    WECHAT_OA_TOKEN: 'benchToken1',
    WECHAT_OA_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  },
  overrides: { store: new EmbeddedStore({ dir: null }), logger: silentLogger },
});

const body = `<xml><Encrypt>${'<![CDATA['.repeat(Math.floor((MAX_PUSH_BYTES - 100) / 9))}`;
function hostileUrl(i: number): string {
  const fake = createHash('sha1').update(`bench${i}`).digest('hex');
  return `${stack.apiUrl}/api/auth/oa/push?timestamp=${Math.floor(Date.now() / 1000)}&nonce=${i}&encrypt_type=aes&msg_signature=${fake}`;
}
/** One keep-alive connection for the hostile client (bench/lib's request() JSON-encodes bodies). */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function rawPost(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function logins(n: number): Promise<number[]> {
  const users = Array.from({ length: n }, (_, i) => `bench-${Date.now()}-${i}`);
  await pool(users, 4, async (user) => {
    const code = (JSON.parse((await request(`${stack.simUrl}/__sim/mini/code`, { method: 'POST', body: { appid: stack.appid, user } })).body) as { code: string }).code;
    const started = performance.now();
    const res = await request(`${stack.apiUrl}/api/auth/mini/login`, { method: 'POST', body: { code } });
    if (res.status !== 200) throw new Error(`login ${res.status} ${res.body}`);
    timings.push(performance.now() - started);
  });
  return timings.splice(0).sort((a, b) => a - b);
}
const timings: number[] = [];

try {
  await logins(50); // warm up
  const alone = await logins(LOGINS);
  let flooding = true;
  let sent = 0;
  const statuses = new Map<number, number>();
  const flood = (async () => {
    while (flooding) {
      const status = await rawPost(hostileUrl(sent++));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  })();
  const underAttack = await logins(LOGINS);
  flooding = false;
  await flood;
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < HOSTILE; i++) await rawPost(hostileUrl(1e6 + i));
  const cpu = process.cpuUsage(cpuStart);
  const row = (name: string, t: number[]) => `| ${name} | ${t.length} | ${percentile(t, 0.5).toFixed(1)} | ${percentile(t, 0.95).toFixed(1)} | ${percentile(t, 0.99).toFixed(1)} |`;
  console.log(`Node ${process.version}; ${LOGINS} mini logins per phase (concurrency 4); hostile body ${Buffer.byteLength(body)} bytes of unterminated CDATA, unsigned.\n`);
  console.log('| phase | logins | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|');
  console.log(row('logins alone', alone));
  console.log(row(`logins + 1 connection of hostile pushes (${sent} sent, statuses ${JSON.stringify(Object.fromEntries(statuses))})`, underAttack));
  console.log(`\nCPU per hostile push (client + server, this process): ${((cpu.user + cpu.system) / HOSTILE / 1000).toFixed(3)} ms over ${HOSTILE}.`);
} finally {
  agent.destroy();
  await stack.close();
}
