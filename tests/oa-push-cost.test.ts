import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { extractEncrypt, MAX_PUSH_BYTES, parsePushXml, PushXmlError, scanPushXml } from '../packages/server/src/wechat/push/xml.js';
import { simEncrypt } from '../packages/sim/src/oa-server.js';
import { PushGate } from '../packages/server/src/http/push-limits.js';
import { testServices } from './support/services.js';

/**
 * The cost of /api/auth/oa/push for someone who is not WeChat (issue 18 §4, docs/SECURITY.md "Push
 * endpoint cost"). Deterministic first: an unsigned or badly signed push never reaches a parser
 * (a spy on fast-xml-parser and on JSON.parse stays at 0), and every check before the parser
 * looks at each character a bounded number of times (counted, not timed). Then one measurement
 * that cannot be flaky on a shared 2-core machine: CPU per hostile request, against a baseline of
 * a small refused push measured in the same run, with a wide margin (the quadratic guard this
 * replaces cost 68–180 ms per request; the bound is about 1 ms).
 */
const OA_APPID = 'wx0123456789abcdef';
const TOKEN = 'costToken42';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const sha1 = (...v: string[]) => createHash('sha1').update(v.sort().join('')).digest('hex');
const now = () => String(Math.floor(Date.now() / 1000));

function oaServices(mode: 'plain' | 'compatible' | 'safe', limits = {}) {
  return testServices(
    { oaPushLimits: limits },
    {
      WECHAT_OA_APPID: OA_APPID,
      WECHAT_OA_SECRET: '0123456789abcdef0123456789abcdef',
      WECHAT_OA_TOKEN: TOKEN,
      WECHAT_OA_MESSAGE_MODE: mode,
      ...(mode === 'plain' ? {} : { WECHAT_OA_ENCODING_AES_KEY: KEY }),
    },
  );
}
type Services = ReturnType<typeof oaServices>;

const event = (openid: string, ts: string, key = 'shop_poster_1') =>
  `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[${openid}]]></FromUserName><CreateTime>${ts}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[${key}]]></EventKey></xml>`;

/** A safe-mode push exactly as WeChat signs it. */
function signedPush(inner: string, nonce = String(Math.floor(Math.random() * 1e9))) {
  const ts = now();
  const encrypt = simEncrypt(KEY, OA_APPID, inner);
  return {
    url: `/api/auth/oa/push?signature=${sha1(TOKEN, ts, nonce)}&timestamp=${ts}&nonce=${nonce}&openid=x&encrypt_type=aes&msg_signature=${sha1(TOKEN, ts, nonce, encrypt)}`,
    body: `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
  };
}

/** Just under the size limit: the most a request may bring. */
const fill = (unit: string, prefix = '', suffix = '') => prefix + unit.repeat(Math.floor((MAX_PUSH_BYTES - 200 - prefix.length - suffix.length) / unit.length)) + suffix;

/** Pushes nobody signed: a made-up 40-hex msg_signature (or signature) and a fresh timestamp. */
function hostile(i: number): { url: string; body: string } {
  const ts = now();
  const fake = createHash('sha1').update(`forged${i}`).digest('hex');
  const encrypted = `/api/auth/oa/push?timestamp=${ts}&nonce=${i}&encrypt_type=aes&msg_signature=${fake}&signature=${fake}`;
  const bodies = [
    // the body: unterminated CDATA sections, again and again
    fill('<![CDATA[', '<xml><Encrypt>'),
    fill('<![CDATA[', '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Content>'),
    // a well-formed body whose Encrypt is huge: one sha1 over it, then refused
    fill('A', '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[', ']]></Encrypt></xml>'),
    // markup everywhere, and Encrypt written inside text (not markup) many times
    fill('<a>', '<xml>'),
    fill('<![CDATA[<Encrypt>x</Encrypt>]]>', '<xml>', '<Encrypt>QUFBQQ==</Encrypt></xml>'),
    // the JSON form with a huge Encrypt
    fill('A', '{"ToUserName":"gh_x","Encrypt":"', '"}'),
    // an entity bomb
    `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "${'a'.repeat(1000)}">]><xml><Encrypt>&a;</Encrypt></xml>`,
  ];
  return { url: encrypted, body: bodies[i % bodies.length]! };
}

const post = (services: Services, p: { url: string; body: string }) => services.app.request(p.url, { method: 'POST', body: p.body, headers: { 'content-type': 'text/xml' } });

describe('the guard before the parser is one linear pass', () => {
  // Families of hostile input; each is built at N and 4N characters.
  const families: Record<string, (n: number) => string> = {
    'unterminated CDATA, repeated': (n) => '<![CDATA['.repeat(n / 9),
    'CDATA openings closed once at the end': (n) => `${'<![CDATA['.repeat(n / 9)}]]>`,
    'nothing but <': (n) => '<'.repeat(n),
    'CDATA with ] inside': (n) => `<![CDATA[${']'.repeat(n)}`,
    'many Encrypt openings': (n) => '<Encrypt>'.repeat(n / 9),
    'many closed CDATA sections': (n) => '<![CDATA[a]]>'.repeat(n / 13),
    'a real event, long': (n) => `<xml>${'<A><![CDATA[x]]></A>'.repeat(n / 20)}</xml>`,
  };

  it.each(Object.keys(families))('%s: characters examined grow linearly (N vs 4N), at most twice the length', (name) => {
    const build = families[name]!;
    const small = build(9 * 13 * 20 * 10);
    const large = build(4 * 9 * 13 * 20 * 10);
    const a = scanPushXml(small).examined;
    const b = scanPushXml(large).examined;
    expect(a).toBeLessThanOrEqual(2 * small.length + 16);
    expect(b).toBeLessThanOrEqual(2 * large.length + 16);
    // quadratic work would be 16× here
    expect(b).toBeLessThanOrEqual(4.5 * a + 16);
  });

  it('refuses what the parser must never see, and finds the Encrypt that is markup, not text', () => {
    expect(scanPushXml('<xml><Encrypt><![CDATA[').refused).toBe('malformed');
    expect(scanPushXml('<xml><![CDATA[ never closed').refused).toBe('malformed');
    expect(scanPushXml('<!DOCTYPE x><xml/>').refused).toBe('doctype');
    expect(scanPushXml('<xml><!-- c --></xml>').refused).toBe('doctype');
    expect(scanPushXml('<?php ?><xml/>').refused).toBe('doctype');
    expect(scanPushXml('<?xml version="1.0"?><xml/>').refused).toBeNull();
    expect(scanPushXml('<xml><A><![CDATA[<!DOCTYPE is text here>]]></A></xml>').refused).toBeNull();
    // compatible mode: a person typed "<Encrypt>…</Encrypt>" into a message; the real one comes after
    const typed = '<xml><Content><![CDATA[<Encrypt>fake</Encrypt>]]></Content><Encrypt><![CDATA[cmVhbA==]]></Encrypt></xml>';
    expect(extractEncrypt(typed)).toBe('cmVhbA==');
    expect(() => extractEncrypt('<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>')).toThrow(new PushXmlError('malformed'));
    expect(() => extractEncrypt('<xml><ToUserName>x</ToUserName></xml>')).toThrow(new PushXmlError('malformed'));
    expect(extractEncrypt('{"ToUserName": "gh_x", "Encrypt": "ab\\/cd=="}')).toBe('ab/cd==');
    expect(() => extractEncrypt('{"Encrypt": "a\\"b"}')).toThrow(PushXmlError);
  });

  it('the issue body (64 KiB of unterminated CDATA) costs parsePushXml no more than a benign body of the same size', async () => {
    const hostileBody = fill('<![CDATA[', '<xml><A>');
    const benign = `<xml>${Array.from({ length: 2_000 }, (_, i) => `<F${i}><![CDATA[x]]></F${i}>`).join('')}</xml>`;
    expect(benign.length).toBeGreaterThan(hostileBody.length / 2);
    await expect(parsePushXml(hostileBody)).rejects.toThrow(PushXmlError);
    await parsePushXml(benign); // warm the parser
    const cpu = async (body: string, runs: number) => {
      const start = process.cpuUsage();
      for (let i = 0; i < runs; i++) await parsePushXml(body).catch(() => undefined);
      const used = process.cpuUsage(start);
      return (used.user + used.system) / runs;
    };
    const benignUs = await cpu(benign, 20);
    const hostileUs = await cpu(hostileBody, 20);
    if (process.env.REPORT_TIMINGS) console.log(`parsePushXml CPU: hostile ${hostileUs.toFixed(0)} µs, benign ${benignUs.toFixed(0)} µs`);
    // refusing it costs a fraction of parsing a real body of that size (the old guard: 2–4× more than parsing)
    expect(hostileUs).toBeLessThan(benignUs / 4 + 1_000);
  });
});

describe('/api/auth/oa/push: nothing is parsed before the signature is verified', () => {
  let services: Services;
  let parses: MockInstance<XMLParser['parse']>;
  let jsonParse: MockInstance<typeof JSON.parse>;
  const hostileJsonParses = () => jsonParse.mock.calls.filter(([text]) => typeof text === 'string' && text.includes('"Encrypt"')).length;
  beforeAll(() => {
    services = oaServices('safe');
    parses = vi.spyOn(XMLParser.prototype, 'parse');
    jsonParse = vi.spyOn(JSON, 'parse');
  });
  afterAll(() => {
    services.stop();
    parses.mockRestore();
    jsonParse.mockRestore();
  });
  afterEach(() => {
    parses.mockClear();
    jsonParse.mockClear();
  });

  it('a correctly signed push is parsed (the spy sees the parser) and answered', async () => {
    const res = await post(services, signedPush(event('oSigned', now())));
    expect([res.status, await res.text()]).toEqual([200, 'success']);
    expect(parses).toHaveBeenCalledTimes(1);
  });

  it('1,000 hostile pushes: each refused before any parser runs, and each costs about what a small refused push costs', async () => {
    // first a few, so that a parser-first server fails here and not by a timeout
    for (let i = 0; i < 7; i++) {
      const res = await post(services, hostile(i));
      expect(res.status, `hostile body ${i}`).toBeGreaterThanOrEqual(400);
      expect(parses).not.toHaveBeenCalled();
    }
    const small = (i: number) => {
      const ts = now();
      const fake = createHash('sha1').update(`small${i}`).digest('hex');
      return { url: `/api/auth/oa/push?timestamp=${ts}&nonce=${i}&encrypt_type=aes&msg_signature=${fake}`, body: '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[QUFBQUFBQUFBQUFBQUFBQQ==]]></Encrypt></xml>' };
    };
    // Alternate batches of the two kinds, so that whatever else the machine does falls on both.
    let hostileUs = 0;
    let smallUs = 0;
    const codes = new Map<string, number>();
    for (let batch = 0; batch < 10; batch++) {
      let start = process.cpuUsage();
      for (let i = 0; i < 100; i++) {
        const res = await post(services, hostile(batch * 100 + i));
        const code = ((await res.json()) as { error: { code: string } }).error.code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      let used = process.cpuUsage(start);
      hostileUs += used.user + used.system;
      start = process.cpuUsage();
      for (let i = 0; i < 100; i++) {
        const res = await post(services, small(batch * 100 + i));
        expect(res.status).toBe(401);
        await res.arrayBuffer();
      }
      used = process.cpuUsage(start);
      smallUs += used.user + used.system;
    }
    expect(parses).not.toHaveBeenCalled();
    expect(hostileJsonParses()).toBe(0);
    expect([...codes.keys()].sort()).toEqual(['oa_push_body_invalid', 'oa_push_signature_invalid']);
    const perHostile = hostileUs / 1000;
    const perSmall = smallUs / 1000;
    if (process.env.REPORT_TIMINGS) console.log(`CPU per request: hostile 64 KiB ${perHostile.toFixed(0)} µs, small refused ${perSmall.toFixed(0)} µs`);
    // Generous: 64 KiB to copy, scan once and hash once is a fraction of a millisecond; a login
    // queued behind one such request waits about that long (p95 of a login: ~30 ms).
    expect(perHostile).toBeLessThan(10 * perSmall + 1_000);
  }, 120_000);

  it('an encrypted push with a wrong msg_signature is never decrypted or parsed, even when its Encrypt is real', async () => {
    const good = signedPush(event('oTampered', now()));
    const res = await post(services, { url: good.url.replace(/msg_signature=[0-9a-f]+/, `msg_signature=${'0'.repeat(40)}`), body: good.body });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'oa_push_signature_invalid' } });
    expect(parses).not.toHaveBeenCalled();
  });
});

describe('/api/auth/oa/push: limits WeChat never reaches (docs/SECURITY.md "Push endpoint cost")', () => {
  it('a signed query serves WeChat\'s push and its three retries; a 5th use is a replay, refused before parsing', async () => {
    const services = oaServices('safe');
    const parses = vi.spyOn(XMLParser.prototype, 'parse');
    try {
      const push = signedPush(event('oRetried', now()));
      for (let i = 0; i < 4; i++) expect(await (await post(services, push)).text()).toBe('success');
      const before = parses.mock.calls.length;
      const replay = await post(services, push);
      expect(replay.status).toBe(401);
      expect(await replay.json()).toMatchObject({ error: { code: 'oa_push_signature_invalid' } });
      expect(parses.mock.calls.length).toBe(before);
      // plain mode: the signature covers no body, so a captured URL would otherwise take any body
      const plain = oaServices('plain');
      try {
        const ts = now();
        const url = `/api/auth/oa/push?signature=${sha1(TOKEN, ts, '7')}&timestamp=${ts}&nonce=7&openid=x`;
        for (let i = 0; i < 4; i++) expect((await post(plain, { url, body: event(`oPlain${i}`, ts) })).status).toBe(200);
        expect((await post(plain, { url, body: event('oPlain5', ts) })).status).toBe(401);
      } finally {
        plain.stop();
      }
    } finally {
      parses.mockRestore();
      services.stop();
    }
  });

  it('pushes in flight are bounded: the next one gets 429 before its body is read; a body that does not arrive frees its slot', async () => {
    const services = oaServices('safe', { maxInFlight: 2, bodyDeadlineMs: 300 });
    try {
      // two senders that state a body and never finish it
      const stalled = () => {
        const body = new ReadableStream({ start: (ctl) => ctl.enqueue(new TextEncoder().encode('<xml>')) });
        const ts = now();
        return services.app.request(`/api/auth/oa/push?timestamp=${ts}&nonce=1&encrypt_type=aes&msg_signature=${'a'.repeat(40)}`, { method: 'POST', body, duplex: 'half' } as RequestInit);
      };
      const held = [stalled(), stalled()];
      await new Promise((r) => setTimeout(r, 50));
      const third = await post(services, signedPush(event('oBusy', now())));
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('1');
      expect(await third.json()).toMatchObject({ error: { code: 'too_many_requests' } });
      // the stalled bodies hit the deadline (WeChat sends its body at once and waits 5 s in all)
      for (const res of await Promise.all(held)) {
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: { code: 'oa_push_body_invalid' } });
      }
      expect(await (await post(services, signedPush(event('oAfter', now())))).text()).toBe('success');
    } finally {
      services.stop();
    }
  });

  it('a chunked body (no Content-Length) is counted as it arrives: over the limit refused, a real push answered', async () => {
    const services = oaServices('safe');
    try {
      const chunked = (text: string) =>
        new ReadableStream({
          start(ctl) {
            const bytes = new TextEncoder().encode(text);
            for (let i = 0; i < bytes.length; i += 4096) ctl.enqueue(bytes.subarray(i, i + 4096));
            ctl.close();
          },
        });
      const push = signedPush(event('oChunked', now()));
      const big = await services.app.request(push.url, { method: 'POST', body: chunked(`${push.body}${' '.repeat(MAX_PUSH_BYTES)}`), duplex: 'half' } as RequestInit);
      expect(big.status).toBe(400);
      expect(await big.json()).toMatchObject({ error: { code: 'oa_push_body_invalid' } });
      const ok = await services.app.request(push.url, { method: 'POST', body: chunked(push.body), duplex: 'half' } as RequestInit);
      expect([ok.status, await ok.text()]).toEqual([200, 'success']);
    } finally {
      services.stop();
    }
  });

  it('the size limit is far above a real push: a compatible-mode text of 2,000 Chinese characters passes', async () => {
    const services = oaServices('compatible');
    try {
      const ts = now();
      const text = `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oLong]]></FromUserName><CreateTime>${ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${'长'.repeat(2_000)}]]></Content><MsgId>1234567890123456789</MsgId></xml>`;
      const push = signedPush(text);
      // compatible mode: the plaintext fields and the Encrypt, as WeChat sends them (facts §9, vector C)
      const body = text.replace('</xml>', `<Encrypt>${push.body.split('<Encrypt>')[1]!}`);
      expect(Buffer.byteLength(body)).toBeLessThan(MAX_PUSH_BYTES / 3);
      const res = await post(services, { url: push.url, body });
      expect([res.status, await res.text()]).toEqual([200, 'success']);
    } finally {
      services.stop();
    }
  });
});

describe('PushGate (packages/server/src/http/push-limits.ts)', () => {
  it('counts uses per signed query, forgets after twice the window, and remembers a bounded number', () => {
    const gate = new PushGate({ maxUsesPerSignature: 2, rememberSignatures: 2 }, 1_000);
    expect([gate.use('AA', 0), gate.use('aa', 10), gate.use('aa', 20)]).toEqual([true, true, false]);
    // forgotten once its timestamp can no longer be fresh (first use + 2 × window)
    expect(gate.use('aa', 2_001)).toBe(true);
    // at most 2 remembered: a third one pushes out the oldest
    gate.use('bb', 2_002);
    gate.use('cc', 2_003);
    expect([gate.use('aa', 2_004), gate.use('aa', 2_005)]).toEqual([true, true]);
    expect(gate.use('aa', 2_006)).toBe(false);
  });

  it('slots in flight are taken and given back', () => {
    const gate = new PushGate({ maxInFlight: 1 }, 1_000);
    expect([gate.enter(), gate.enter()]).toEqual([true, false]);
    gate.leave();
    expect(gate.enter()).toBe(true);
  });
});
