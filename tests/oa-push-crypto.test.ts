import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aesKeyOf, MsgCrypt, MsgCryptError } from '../packages/server/src/wechat/push/msg-crypt.js';
import { pushSignature, signatureMatches } from '../packages/server/src/wechat/push/signature.js';
import { encryptedReplyXml, parsePushXml, PushXmlError } from '../packages/server/src/wechat/push/xml.js';
import { dedupeKey, parsePushMessage } from '../packages/server/src/wechat/push/events.js';

// Official and SDK vectors: wechat-api-facts.md §8 (signatures) and §9 (WXBizMsgCrypt, vectors A–E).
const SAMPLE_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

describe('server-URL signature (wechat-api-facts.md §8)', () => {
  it('matches the official GET and POST examples and the wechatpy vector', () => {
    expect(pushSignature('AAAAA', '1714036504', '1514711492')).toBe('f464b24fc39322e44b38aa78f5edd27bd1441696');
    expect(pushSignature('AAAAA', '1714037059', '486452656')).toBe('899cf89e464efb63f54ddac96b0a0a235f53aa78');
    expect(pushSignature('test', '1410685589', 'test')).toBe('f21891de399b4e33a1a93c9a7b8a8fffb5a443ff');
    expect(signatureMatches('f21891de399b4e33a1a93c9a7b8a8fffb5a443ff', 'test', '1410685589', 'test')).toBe(true);
    expect(signatureMatches('F21891DE399B4E33A1A93C9A7B8A8FFFB5A443FF', 'test', '1410685589', 'test')).toBe(true);
    expect(signatureMatches('f21891de399b4e33a1a93c9a7b8a8fffb5a443fe', 'test', '1410685589', 'test')).toBe(false);
    expect(signatureMatches(undefined, 'test', '1410685589', 'test')).toBe(false);
    expect(signatureMatches('not-hex', 'test', '1410685589', 'test')).toBe(false);
  });
});

describe('WXBizMsgCrypt (wechat-api-facts.md §9)', () => {
  it('derives the AES key of the classic sample EncodingAESKey', () => {
    expect(aesKeyOf(SAMPLE_KEY).toString('hex')).toBe('69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051');
    expect(() => aesKeyOf('short')).toThrow(MsgCryptError);
    expect(() => aesKeyOf(`${SAMPLE_KEY.slice(0, 42)}+`)).toThrow(MsgCryptError);
  });

  it('vector A (official Java sample): encrypts to the published ciphertexts and signatures', () => {
    const crypt = new MsgCrypt({ token: 'pamtest', appid: 'wxb11529c136998cb6', encodingAesKeys: [SAMPLE_KEY] });
    const random = Buffer.from('aaaabbbbccccdddd');
    const a1 = 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==';
    expect(crypt.encrypt('我是中文abcd123', 0, random)).toBe(a1);
    const reply = crypt.encryptReply('我是中文abcd123', 0, '1409304348', 'xxxxxx', random);
    expect(reply.msgSignature).toBe('82c962d39941aa48552f90ef55aa323dc620cc10');
    expect(crypt.decryptSigned(a1, '82c962d39941aa48552f90ef55aa323dc620cc10', '1409304348', 'xxxxxx').message).toBe('我是中文abcd123');
    const a2Plain =
      '<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>';
    const a2 = crypt.encrypt(a2Plain, 0, random);
    expect(a2).toBe(
      'jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb',
    );
    expect(pushSignature('pamtest', '1409304348', 'xxxxxx', a2)).toBe('ea88b765074e41eb8c7a75b449db34fa2fd560d5');
  });

  it('vector B (EasyWeChat): verifies msg_signature and decrypts a 21-byte-padded message', () => {
    const crypt = new MsgCrypt({ token: 'pamtest', appid: 'wxb11529c136998cb6', encodingAesKeys: [SAMPLE_KEY] });
    const encrypt =
      'rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==';
    const { message } = crypt.decryptSigned(encrypt, '4f3ad57b6989f09f4eb392acce4f9e93942ed890', '1458300676', '260774613');
    expect(message).toBe(
      '<xml><URL><![CDATA[http://wechat.laravel.so/server]]></URL><ToUserName><![CDATA[asdasdasd]]></ToUserName><FromUserName><![CDATA[asdasdasdsadasd]]></FromUserName><CreateTime>1234567898</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>12345</MsgId></xml>',
    );
    expect(() => crypt.decryptSigned(encrypt, '4f3ad57b6989f09f4eb392acce4f9e93942ed891', '1458300676', '260774613')).toThrow(new MsgCryptError('signature'));
    const otherApp = new MsgCrypt({ token: 'pamtest', appid: 'wx0000000000000000', encodingAesKeys: [SAMPLE_KEY] });
    expect(() => otherApp.decryptSigned(encrypt, '4f3ad57b6989f09f4eb392acce4f9e93942ed890', '1458300676', '260774613')).toThrow(new MsgCryptError('appid'));
  });

  it('vector C (official Python sample, compatible mode): plaintext fields and Encrypt agree', async () => {
    const crypt = new MsgCrypt({ token: 'spamtest', appid: 'wx2c2769f8efd9abc2', encodingAesKeys: [SAMPLE_KEY] });
    const fromXml =
      '<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>';
    const outer = await parsePushXml(fromXml);
    const { message } = crypt.decryptSigned(outer.Encrypt!, '5d197aaffba7e9b25a30732f161a50dee96bd5fa', '1409735669', '1320562132');
    const inner = await parsePushXml(message);
    expect(inner).toEqual({ ToUserName: 'gh_10f6c3c3ac5a', FromUserName: 'oyORnuP8q7ou2gfYjqLzSIWZf0rs', CreateTime: '1409735668', MsgType: 'text', Content: 'abcdteT', MsgId: '6054768590064713728' });
    // MsgId stays a string: it is beyond 2^53
    expect(dedupeKey(parsePushMessage(inner))).toBe('msg:6054768590064713728');
  });

  it('vector D (current official doc, 43 × A): inbound JSON and the reply', () => {
    const crypt = new MsgCrypt({ token: 'AAAAA', appid: 'wxba5fad812f8e6fb9', encodingAesKeys: ['A'.repeat(43)] });
    const inbound =
      '+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=';
    expect(crypt.decryptSigned(inbound, '046e02f8204d34f8ba5fa3b1db94908f3df2e9b3', '1714112445', '415670741').message).toBe(
      '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}',
    );
    const reply = 'ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==';
    expect(crypt.decryptSigned(reply, '1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1', '1713424427', '415670741').message).toBe('{"demo_resp":"good luck"}');
  });

  it('vector E (wechatpy, corp variant): echostr, encrypt with a fixed random, decrypt', async () => {
    const crypt = new MsgCrypt({ token: '123456', appid: 'wx49f0ab532d5d035a', encodingAesKeys: ['kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR'] });
    const echostr = '4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==';
    expect(crypt.decryptSigned(echostr, 'dd6b9c95b495b3f7e2901bfbc76c664930ffdb96', '1411443780', '437374425').message).toBe('5927782489442352469');
    expect(() => crypt.decryptSigned(echostr, 'dd6b9c95b495b3f7e2901bfbc76c664930ffdb96', '1411443780', '437374424')).toThrow(new MsgCryptError('signature'));
    const expected =
      '9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3';
    // The reply plaintext is not in the fact sheet: decrypt it, then encryption with the published random must reproduce it.
    const plain = crypt.decrypt(expected).message;
    const reply = crypt.encryptReply(plain, 0, '1411525903', '461056294', Buffer.from('1234567890123456'));
    expect(reply.encrypt).toBe(expected);
    expect(reply.msgSignature).toBe('407518b7649e86ef23978113f92d27afa9296533');
    const xml = encryptedReplyXml(reply);
    expect(xml).toContain('<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>');
    expect(xml).toContain('<TimeStamp>1411525903</TimeStamp>');
    const inbound =
      'RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=';
    const fields = await parsePushXml(crypt.decryptSigned(inbound, '74d92dfeb87ba7c714f89d98870ae5eb62dff26d', '1411525903', '461056294').message);
    expect(fields).toMatchObject({ Content: 'test', FromUserName: 'messense' });
  });

  it('keeps the previous EncodingAESKey working during a rotation, and reports which key opened it', () => {
    const previous = new MsgCrypt({ token: 't', appid: 'wx1111111111111111', encodingAesKeys: [SAMPLE_KEY] });
    const rotated = new MsgCrypt({ token: 't', appid: 'wx1111111111111111', encodingAesKeys: ['B'.repeat(43), SAMPLE_KEY] });
    const encrypt = previous.encrypt('<xml/>');
    expect(rotated.decrypt(encrypt)).toEqual({ message: '<xml/>', keyIndex: 1 });
    // the reply goes back under the key the message came in with: the sender (old key) can open it
    const reply = rotated.encryptReply('answer', 1, '1', '2');
    expect(previous.decrypt(reply.encrypt).message).toBe('answer');
    expect(rotated.decrypt(rotated.encrypt('new')).keyIndex).toBe(0);
    const retired = new MsgCrypt({ token: 't', appid: 'wx1111111111111111', encodingAesKeys: ['B'.repeat(43)] });
    expect(() => retired.decrypt(encrypt)).toThrow(MsgCryptError);
  });

  it('refuses broken ciphertexts with one error type, never a crash', () => {
    const crypt = new MsgCrypt({ token: 't', appid: 'wx1111111111111111', encodingAesKeys: [SAMPLE_KEY] });
    const good = crypt.encrypt('hello');
    const flipped = Buffer.from(good, 'base64');
    flipped[flipped.length - 1]! ^= 0x55;
    for (const bad of ['', 'not base64!', good.slice(0, 20), flipped.toString('base64'), Buffer.alloc(32).toString('base64')]) {
      expect(() => crypt.decrypt(bad)).toThrow(MsgCryptError);
    }
  });
});

describe('independent vectors (python cryptography, tests/fixtures/wxbizmsgcrypt_vectors.py)', () => {
  const check = (vectors: Array<Record<string, string>>) => {
    expect(vectors.length).toBeGreaterThanOrEqual(7);
    for (const v of vectors) {
      const crypt = new MsgCrypt({ token: v.token!, appid: v.appid!, encodingAesKeys: [v.encodingAesKey!] });
      expect(crypt.encrypt(v.message!, 0, Buffer.from(v.random!, 'hex'))).toBe(v.encrypt);
      expect(crypt.decryptSigned(v.encrypt!, v.msgSignature, v.timestamp!, v.nonce!).message).toBe(v.message);
      expect(pushSignature(v.token!, v.timestamp!, v.nonce!)).toBe(v.signature);
    }
  };
  it('matches the committed fixture', () => {
    check(JSON.parse(readFileSync('tests/fixtures/wxbizmsgcrypt-vectors.json', 'utf8')).vectors);
  });
  it('matches vectors generated now, when python3 with cryptography is installed', (ctx) => {
    let out: string;
    try {
      out = execFileSync('python3', ['tests/fixtures/wxbizmsgcrypt_vectors.py'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      ctx.skip();
      return;
    }
    check(JSON.parse(out).vectors);
  });
  it('openssl CLI decrypts our ciphertext (AES-256-CBC, key/IV from the EncodingAESKey, no auto padding)', (ctx) => {
    const crypt = new MsgCrypt({ token: 't', appid: 'wx2222222222222222', encodingAesKeys: [SAMPLE_KEY] });
    const encrypt = crypt.encrypt('openssl sees this', 0, Buffer.alloc(16, 7));
    const key = aesKeyOf(SAMPLE_KEY);
    let plain: Buffer;
    try {
      plain = execFileSync('openssl', ['enc', '-d', '-aes-256-cbc', '-nopad', '-K', key.toString('hex'), '-iv', key.subarray(0, 16).toString('hex')], { input: Buffer.from(encrypt, 'base64') });
    } catch {
      ctx.skip();
      return;
    }
    const pad = plain.at(-1)!;
    expect(plain.subarray(0, 16)).toEqual(Buffer.alloc(16, 7));
    expect(plain.readUInt32BE(16)).toBe(17);
    expect(plain.subarray(20, 37).toString()).toBe('openssl sees this');
    expect(plain.subarray(37, plain.length - pad).toString()).toBe('wx2222222222222222');
    expect(plain.length % 32).toBe(0);
  });
});

describe('push XML (no DOCTYPE, no entities, size limit)', () => {
  it('parses a flat message, values as strings', async () => {
    expect(await parsePushXml('<?xml version="1.0"?><xml><A><![CDATA[x & <y>]]></A><B>12345678901234567890</B></xml>')).toEqual({ A: 'x & <y>', B: '12345678901234567890' });
  });
  it('refuses DOCTYPE, entity declarations, nesting and oversize bodies', async () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><A>&lol2;</A></xml>`;
    await expect(parsePushXml(bomb)).rejects.toThrow(new PushXmlError('doctype'));
    await expect(parsePushXml('<xml><A><B>1</B></A></xml>')).rejects.toThrow(new PushXmlError('malformed'));
    await expect(parsePushXml(`<xml><A>${'x'.repeat(70_000)}</A></xml>`)).rejects.toThrow(new PushXmlError('too_large'));
    await expect(parsePushXml('not xml')).rejects.toThrow(PushXmlError);
    expect(await parsePushXml('<xml><A><![CDATA[<!DOCTYPE is only text here>]]></A></xml>')).toEqual({ A: '<!DOCTYPE is only text here>' });
  });
});

describe('event parsing (wechat-api-facts.md §8)', () => {
  const base = { ToUserName: 'gh_1', FromUserName: 'oUser1', CreateTime: '1764460800', MsgType: 'event' };
  it('subscribe with qrscene_ is a new follower scan; SCAN an existing follower', () => {
    expect(parsePushMessage({ ...base, Event: 'subscribe', EventKey: 'qrscene_abc', Ticket: 'T' })).toMatchObject({ kind: 'qr_scan', scene: 'abc', newFollower: true, ticket: 'T' });
    expect(parsePushMessage({ ...base, Event: 'SCAN', EventKey: 'abc' })).toMatchObject({ kind: 'qr_scan', scene: 'abc', newFollower: false });
    expect(parsePushMessage({ ...base, Event: 'subscribe' })).toMatchObject({ kind: 'subscribe' });
    expect(parsePushMessage({ ...base, Event: 'subscribe', EventKey: '' })).toMatchObject({ kind: 'subscribe' });
    expect(parsePushMessage({ ...base, Event: 'CLICK', EventKey: 'menu' })).toMatchObject({ kind: 'other', event: 'CLICK' });
    expect(dedupeKey(parsePushMessage({ ...base, Event: 'SCAN', EventKey: 'abc' }))).toBe('evt:oUser1:1764460800:SCAN:abc');
    expect(dedupeKey(parsePushMessage({ ...base, Event: 'CLICK', EventKey: 'menu' }))).toBe('evt:oUser1:1764460800');
  });
});
