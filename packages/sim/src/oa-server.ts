import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import QRCode from 'qrcode';
import { z } from 'zod';
import { base62 } from './ids.js';
import { requirePost, wxError, wxJson } from './errors.js';
import { withFaults } from './faults.js';
import type { SimApp, SimState } from './state.js';
import { SIM_USER_COOKIE } from './oa.js';

/**
 * The official account's server side as WeChat runs it (../shared/docs/WECHAT.md, facts §7–§9):
 * - POST /cgi-bin/qrcode/create (temporary QR_SCENE / QR_STR_SCENE, permanent ones refused here),
 *   GET /cgi-bin/showqrcode?ticket= (a real PNG; 404 for an unknown or expired ticket),
 *   GET /cgi-bin/user/info (subscribe, openid, unionid when bound to an open platform account,
 *   subscribe_scene / qr_scene / qr_scene_str; `subscribe: 0` for this account's openid of someone
 *   not following). POST-only APIs answer a GET with 43002.
 * - POST /__sim/oa/unfollow: the person unfollows, `unsubscribe` is pushed like a scan's event.
 * - The server URL (服务器配置) per official account: URL, Token, EncodingAESKey, mode
 *   (POST /__sim/oa/server). The simulated phone (POST /__sim/oa/scan) scans a parametric QR as a
 *   new follower (subscribe + qrscene_<scene>) or an existing one (SCAN + <scene>) and pushes the
 *   event: signed, encrypted in safe mode (both forms in compatible mode), each attempt cut off
 *   after 5 s and retried — three attempts in all — with the same body (§8). The reply is checked
 *   as WeChat does: `success` / empty, or an XML passive reply (in safe mode: encrypted, its
 *   MsgSignature valid); anything else shows the person 该公众号暂时无法提供服务，请稍后再试.
 * The crypto here is written separately from the API's (api/_lib/wechat/push) on purpose.
 */
export const PUSH_TIMEOUT_MS = 5_000;
export const PUSH_ATTEMPTS = 3;
export const UNAVAILABLE_TEXT = '该公众号暂时无法提供服务，请稍后再试';

export type PushMode = 'plain' | 'compatible' | 'safe';
export interface ServerUrlConfig {
  url: string;
  token: string;
  /** 43 characters; required in compatible and safe mode */
  encodingAesKey: string | null;
  mode: PushMode;
}

interface SimQr {
  appid: string;
  /** QR_SCENE (scene_id) or QR_STR_SCENE (scene_str) */
  kind: 'id' | 'str';
  scene: string;
  url: string;
  expiresAt: number;
}

/**
 * How a person came to follow (cgi-bin/user/info `subscribe_time`, `subscribe_scene`, `qr_scene`,
 * `qr_scene_str`): by a parametric QR code (ADD_SCENE_QR_CODE with its scene), or otherwise
 * (`/__sim/oa/follow`: ADD_SCENE_SEARCH, qr_scene 0, qr_scene_str "").
 */
export interface Following {
  subscribeTime: number;
  subscribeScene: 'ADD_SCENE_QR_CODE' | 'ADD_SCENE_SEARCH';
  qrScene: number;
  qrSceneStr: string;
}

export class OaServerState {
  readonly servers = new Map<string, ServerUrlConfig>();
  readonly qrcodes = new Map<string, SimQr>();
  private readonly followers = new Map<string, Following>();
  /** openid → simulated person, for every person who met the account */
  readonly people = new Map<string, string>();
  /** links each person was sent in a reply (what the simulated WeChat browser may open for them) */
  readonly received = new Map<string, Set<string>>();
  /** the last pushes, newest last (for tests and the docs) */
  readonly pushes: Array<{ appid: string; user: string; event: string; attempts: number; reply: string | null }> = [];

  constructor(private readonly clock: () => number) {}

  follows(appid: string, user: string): boolean {
    return this.followers.has(`${appid}:${user}`);
  }
  following(appid: string, user: string): Following | null {
    return this.followers.get(`${appid}:${user}`) ?? null;
  }
  /** Follow (a new follow replaces how and when, as "如果用户曾多次关注，则取最后关注时间") or unfollow. */
  setFollowing(appid: string, user: string, following: false | Omit<Following, 'subscribeTime'>): void {
    if (following) this.followers.set(`${appid}:${user}`, { ...following, subscribeTime: Math.floor(this.clock() / 1000) });
    else this.followers.delete(`${appid}:${user}`);
  }

  createQr(appid: string, scene: string, expireSeconds: number, kind: SimQr['kind'] = 'str'): { ticket: string; url: string } {
    const now = this.clock();
    for (const [t, q] of this.qrcodes) if (q.expiresAt <= now) this.qrcodes.delete(t);
    const short = base62(22);
    const url = `http://weixin.qq.com/q/${short}`;
    const ticket = Buffer.from(`sim:${short}:${base62(16)}`).toString('base64');
    this.qrcodes.set(ticket, { appid, kind, scene, url, expiresAt: now + expireSeconds * 1000 });
    return { ticket, url };
  }

  /** The QR behind a ticket or behind the content of its image (the http://weixin.qq.com/q/… URL). */
  findQr(ticketOrUrl: string): (SimQr & { ticket: string }) | null {
    const now = this.clock();
    for (const [ticket, qr] of this.qrcodes) {
      if ((ticket === ticketOrUrl || qr.url === ticketOrUrl) && qr.expiresAt > now) return { ...qr, ticket };
    }
    return null;
  }
}

// --- the simulator's own WXBizMsgCrypt (kept apart from the API's implementation) ---
const sha1 = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');
function keyOf(encodingAesKey: string): Buffer {
  return Buffer.from(`${encodingAesKey}=`, 'base64');
}
export function simEncrypt(encodingAesKey: string, appid: string, message: string): string {
  const key = keyOf(encodingAesKey);
  const body = Buffer.from(message);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  let plain = Buffer.concat([randomBytes(16), len, body, Buffer.from(appid)]);
  const pad = 32 - (plain.length % 32);
  plain = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
}
export function simDecrypt(encodingAesKey: string, appid: string, encrypt: string): string | null {
  try {
    const key = keyOf(encodingAesKey);
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(Buffer.from(encrypt, 'base64')), decipher.final()]);
    const pad = plain[plain.length - 1]!;
    if (pad < 1 || pad > 32) return null;
    const content = plain.subarray(0, plain.length - pad);
    const len = content.readUInt32BE(16);
    if (content.subarray(20 + len).toString() !== appid) return null;
    return content.subarray(20, 20 + len).toString();
  } catch {
    return null;
  }
}

const tag = (xml: string, name: string): string | null => {
  const m = new RegExp(`<${name}>(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([^<]*))</${name}>`).exec(xml);
  return m ? (m[1] ?? m[2] ?? '') : null;
};
const cdata = (v: string) => `<![CDATA[${v}]]>`;

export interface PushOutcome {
  /** what the person sees in the chat: the reply text, nothing (success / empty), or WeChat's apology */
  shown: string | null;
  /** links in the reply text (to be opened in the simulated WeChat browser) */
  links: string[];
  attempts: Array<{ status: number | null; ms: number; error?: string }>;
  delivered: boolean;
}

/** Pushes one message to the account's server URL the way WeChat does (timeout, retries, reply checks). */
export async function pushToServer(app: SimApp, server: ServerUrlConfig, openid: string, inner: string, clock: () => number): Promise<PushOutcome> {
  const timestamp = String(Math.floor(clock() / 1000));
  const nonce = String(Math.floor(Math.random() * 1e9));
  const url = new URL(server.url);
  url.searchParams.set('signature', sha1(server.token, timestamp, nonce));
  url.searchParams.set('timestamp', timestamp);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('openid', openid);
  let body = inner;
  if (server.mode !== 'plain') {
    const encrypt = simEncrypt(server.encodingAesKey!, app.appid, inner);
    url.searchParams.set('encrypt_type', 'aes');
    url.searchParams.set('msg_signature', sha1(server.token, timestamp, nonce, encrypt));
    const toUser = tag(inner, 'ToUserName') ?? '';
    body = server.mode === 'safe' ? `<xml><ToUserName>${cdata(toUser)}</ToUserName><Encrypt>${cdata(encrypt)}</Encrypt></xml>` : inner.replace(/<\/xml>\s*$/, `<Encrypt>${cdata(encrypt)}</Encrypt></xml>`);
  }
  const attempts: PushOutcome['attempts'] = [];
  for (let i = 0; i < PUSH_ATTEMPTS; i++) {
    const started = Date.now();
    let text: string;
    let status: number;
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml' }, body, signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) });
      status = response.status;
      text = await response.text();
    } catch (error) {
      attempts.push({ status: null, ms: Date.now() - started, error: (error as Error).name });
      continue;
    }
    attempts.push({ status, ms: Date.now() - started });
    if (status !== 200) continue;
    const reply = readReply(app, server, text);
    if (reply === 'invalid') return { shown: UNAVAILABLE_TEXT, links: [], attempts, delivered: false };
    const links = reply ? [...reply.matchAll(/href="([^"]+)"|(https?:\/\/[^\s"<]+)/g)].map((m) => (m[1] ?? m[2])!.replaceAll('&amp;', '&')) : [];
    return { shown: reply, links, attempts, delivered: true };
  }
  return { shown: UNAVAILABLE_TEXT, links: [], attempts, delivered: false };
}

/** null = success / empty (nothing shown); 'invalid' = a reply WeChat would refuse; else the text shown. */
function readReply(app: SimApp, server: ServerUrlConfig, text: string): string | null | 'invalid' {
  if (text === '' || text === 'success') return null;
  let xml = text;
  const encrypt = tag(text, 'Encrypt');
  if (server.mode === 'safe' && encrypt === null) return 'invalid'; // safe mode takes encrypted replies only
  if (encrypt !== null) {
    const signature = tag(text, 'MsgSignature');
    const ts = tag(text, 'TimeStamp');
    const nonce = tag(text, 'Nonce');
    if (!signature || !ts || !nonce || signature !== sha1(server.token, ts, nonce, encrypt)) return 'invalid';
    const plain = simDecrypt(server.encodingAesKey!, app.appid, encrypt);
    if (plain === null) return 'invalid';
    xml = plain;
  }
  if (tag(xml, 'MsgType') !== 'text') return 'invalid';
  return tag(xml, 'Content');
}

const ServerBody = z.object({
  appid: z.string(),
  url: z.string().url(),
  token: z.string().regex(/^[A-Za-z0-9]{3,32}$/, 'Token: 3–32 letters or digits'),
  encodingAesKey: z.string().regex(/^[A-Za-z0-9]{43}$/, 'EncodingAESKey: 43 letters or digits').nullable().optional(),
  mode: z.enum(['plain', 'compatible', 'safe']),
});
const ScanBody = z.object({
  user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  /** the ticket, or the QR image's content (http://weixin.qq.com/q/…) */
  qr: z.string().min(1),
});

export function oaServerApi(state: SimState) {
  const sim = state.oaServer;
  const oaApp = (token: string | undefined): SimApp | number => {
    const check = state.tokens.check(token);
    if (check) return check;
    const app = state.apps.get(state.tokens.appOf(token!)!);
    return app && app.kind === 'oa' ? app : 48001;
  };
  return new Hono()
    .get('/cgi-bin/qrcode/create', requirePost)
    .post('/cgi-bin/qrcode/create', withFaults(state, 'qrcode_create'), async (c) => {
      const app = oaApp(c.req.query('access_token'));
      if (typeof app === 'number') return wxError(c, app);
      // 48001 api unauthorized: only a verified service account (认证服务号) has 生成带参数的二维码
      if ((app.oaType ?? 'verified-service') !== 'verified-service') return wxError(c, 48001);
      let body: { expire_seconds?: unknown; action_name?: unknown; action_info?: { scene?: { scene_id?: unknown; scene_str?: unknown } } };
      try {
        body = JSON.parse(await c.req.text());
      } catch {
        return wxError(c, 47001);
      }
      const scene = body?.action_info?.scene;
      let value: string;
      const kind = body?.action_name === 'QR_SCENE' ? 'id' : 'str';
      if (body?.action_name === 'QR_STR_SCENE') {
        if (typeof scene?.scene_str !== 'string' || scene.scene_str.length < 1 || scene.scene_str.length > 64) return wxError(c, 40097, 'invalid args');
        value = scene.scene_str;
      } else if (body?.action_name === 'QR_SCENE') {
        if (!Number.isInteger(scene?.scene_id) || (scene!.scene_id as number) <= 0) return wxError(c, 40097, 'invalid args');
        value = String(scene!.scene_id);
      } else return wxError(c, 40097, 'invalid args');
      // §7: default 60 s, at most 30 days
      const expire = body.expire_seconds === undefined ? 60 : Number(body.expire_seconds);
      if (!Number.isInteger(expire) || expire <= 0) return wxError(c, 40097, 'invalid args');
      const seconds = Math.min(expire, 2_592_000);
      const { ticket, url } = sim.createQr(app.appid, value, seconds, kind);
      return wxJson(c, { ticket, expire_seconds: seconds, url });
    })
    .get('/cgi-bin/showqrcode', async (c) => {
      const ticket = c.req.query('ticket') ?? '';
      const qr = sim.qrcodes.get(ticket);
      if (!qr || qr.expiresAt <= state.clock()) return c.body('', 404);
      const dataUrl = await QRCode.toDataURL(qr.url, { margin: 1, width: 258 });
      const png = Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
      return c.body(png, 200, { 'content-type': 'image/png', 'cache-control': 'max-age=604800' });
    })
    .get('/cgi-bin/user/info', withFaults(state, 'user_info'), (c) => {
      const app = oaApp(c.req.query('access_token'));
      if (typeof app === 'number') return wxError(c, app);
      const openid = c.req.query('openid');
      if (!openid) return wxError(c, 41009);
      // any openid this account has (a follower, a web authorization, a scan) is valid; another app's is 40003
      const user = state.personOf(app.appid, openid);
      if (!user) return wxError(c, 40003);
      const following = sim.following(app.appid, user);
      // "值为0时，代表此用户没有关注该公众号，拉取不到其余信息" (observed with tagid_list: [])
      if (!following) return wxJson(c, { subscribe: 0, openid, tagid_list: [] });
      const unionid = state.unionid(app, user);
      return wxJson(c, {
        subscribe: 1,
        openid,
        language: 'zh_CN',
        subscribe_time: following.subscribeTime,
        ...(unionid ? { unionid } : {}),
        remark: '',
        groupid: 0,
        tagid_list: [],
        subscribe_scene: following.subscribeScene,
        qr_scene: following.qrScene,
        qr_scene_str: following.qrSceneStr,
      });
    })
    .post('/__sim/oa/server', async (c) => {
      const parsed = ServerBody.safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return c.json({ error: parsed.error.issues[0]?.message ?? 'bad body' }, 400);
      const { appid, ...server } = parsed.data;
      const app = state.apps.get(appid);
      if (!app || app.kind !== 'oa') return c.json({ error: `${appid} is not a simulated official account` }, 400);
      if (server.mode !== 'plain' && !server.encodingAesKey) return c.json({ error: `${server.mode} mode needs an EncodingAESKey` }, 400);
      // The console checks the URL before saving: GET with signature/timestamp/nonce/echostr.
      const timestamp = String(Math.floor(state.clock() / 1000));
      const nonce = String(Math.floor(Math.random() * 1e9));
      const echostr = String(BigInt.asUintN(63, BigInt(`0x${randomBytes(8).toString('hex')}`)));
      const check = new URL(server.url);
      for (const [k, v] of Object.entries({ signature: sha1(server.token, timestamp, nonce), timestamp, nonce, echostr })) check.searchParams.set(k, v);
      let answer = '';
      try {
        answer = await (await fetch(check, { signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) })).text();
      } catch {}
      if (answer !== echostr) return c.json({ error: 'Token验证失败' }, 409);
      sim.servers.set(appid, { ...server, encodingAesKey: server.encodingAesKey ?? null });
      return c.json({ ok: true });
    })
    .post('/__sim/oa/follow', async (c) => {
      const parsed = z.object({ appid: z.string(), user: ScanBody.shape.user, following: z.boolean() }).safeParse(await c.req.json().catch(() => null));
      if (!parsed.success || !state.apps.has(parsed.data.appid)) return c.json({ error: 'body must be {"appid", "user", "following": true|false}' }, 400);
      // a silent switch: what the account looked like before the test (no event is pushed — use /unfollow or /scan for that)
      sim.setFollowing(parsed.data.appid, parsed.data.user, parsed.data.following && { subscribeScene: 'ADD_SCENE_SEARCH', qrScene: 0, qrSceneStr: '' });
      sim.people.set(state.openid(parsed.data.appid, parsed.data.user), parsed.data.user);
      return c.json({ ok: true });
    })
    .post('/__sim/oa/unfollow', async (c) => {
      // The person taps 不再关注: WeChat pushes `unsubscribe` to the server URL (facts §8), like a scan pushes subscribe.
      const parsed = z.object({ appid: z.string(), user: ScanBody.shape.user }).safeParse(await c.req.json().catch(() => null));
      const app = parsed.success ? state.apps.get(parsed.data.appid) : undefined;
      if (!parsed.success || !app || app.kind !== 'oa') return c.json({ error: 'body must be {"appid" (an official account), "user"}' }, 400);
      const { user } = parsed.data;
      if (!sim.follows(app.appid, user)) return c.json({ error: `${user} does not follow ${app.appid}` }, 409);
      sim.setFollowing(app.appid, user, false);
      const openid = state.openid(app.appid, user);
      sim.people.set(openid, user);
      const inner =
        `<xml><ToUserName>${cdata(ghId(app))}</ToUserName>\n<FromUserName>${cdata(openid)}</FromUserName>\n<CreateTime>${Math.floor(state.clock() / 1000)}</CreateTime>\n` +
        `<MsgType>${cdata('event')}</MsgType>\n<Event>${cdata('unsubscribe')}</Event>\n</xml>`;
      const server = sim.servers.get(app.appid);
      if (!server) {
        sim.pushes.push({ appid: app.appid, user, event: 'unsubscribe', attempts: 0, reply: null });
        return c.json({ event: 'unsubscribe', openid, delivered: false, attempts: [] });
      }
      const outcome = await pushToServer(app, server, openid, inner, state.clock);
      sim.pushes.push({ appid: app.appid, user, event: 'unsubscribe', attempts: outcome.attempts.length, reply: outcome.shown });
      // nobody sees a reply to an unfollow
      return c.json({ event: 'unsubscribe', openid, delivered: outcome.delivered, attempts: outcome.attempts });
    })
    .post('/__sim/oa/scan', async (c) => {
      const parsed = ScanBody.safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return c.json({ error: 'body must be {"user", "qr": ticket or QR content}' }, 400);
      const { user, qr: ref } = parsed.data;
      const qr = sim.findQr(ref);
      if (!qr) return c.json({ error: '二维码已过期' }, 410);
      const app = state.apps.get(qr.appid)!;
      const server = sim.servers.get(app.appid);
      const newFollower = !sim.follows(app.appid, user);
      // a follower scanning again stays the follower they were (SCAN changes no subscribe_* field)
      if (newFollower) sim.setFollowing(app.appid, user, { subscribeScene: 'ADD_SCENE_QR_CODE', qrScene: qr.kind === 'id' ? Number(qr.scene) : 0, qrSceneStr: qr.kind === 'str' ? qr.scene : '' });
      const openid = state.openid(app.appid, user);
      sim.people.set(openid, user);
      const event = newFollower ? 'subscribe' : 'SCAN';
      const inner =
        `<xml><ToUserName>${cdata(ghId(app))}</ToUserName>\n<FromUserName>${cdata(openid)}</FromUserName>\n<CreateTime>${Math.floor(state.clock() / 1000)}</CreateTime>\n` +
        `<MsgType>${cdata('event')}</MsgType>\n<Event>${cdata(event)}</Event>\n<EventKey>${cdata(newFollower ? `qrscene_${qr.scene}` : qr.scene)}</EventKey>\n<Ticket>${cdata(qr.ticket)}</Ticket>\n</xml>`;
      if (!server) {
        sim.pushes.push({ appid: app.appid, user, event, attempts: 0, reply: null });
        return c.json({ event, newFollower, openid, delivered: false, shown: null, links: [], attempts: [] });
      }
      const outcome = await pushToServer(app, server, openid, inner, state.clock);
      sim.pushes.push({ appid: app.appid, user, event, attempts: outcome.attempts.length, reply: outcome.shown });
      const received = sim.received.get(user) ?? new Set<string>();
      for (const link of outcome.links) received.add(link);
      sim.received.set(user, received);
      // each link as the person's WeChat opens it: through /__sim/oa/open (sets who is "in" WeChat)
      const open = outcome.links.map((link) => `${new URL(c.req.url).origin}/__sim/oa/open?${new URLSearchParams({ user, url: link })}`);
      return c.json({ event, newFollower, openid, ...outcome, open });
    })
    .get('/__sim/oa/pushes', (c) => c.json(sim.pushes))
    // The simulated WeChat browser opening a link from a chat: the person becomes the simulator's
    // sim_user (what oauth2/authorize then authorizes — in a browser with a MicroMessenger UA) and
    // the browser goes to the link. Only links this person was actually sent.
    .get('/__sim/oa/open', (c) => {
      const user = c.req.query('user') ?? '';
      const url = c.req.query('url') ?? '';
      if (!sim.received.get(user)?.has(url)) return c.text('这个链接没有在该用户的聊天中出现', 404);
      setCookie(c, SIM_USER_COOKIE, user, { path: '/', sameSite: 'Lax' });
      return c.redirect(url, 302);
    });
}

/** The official account's original id (gh_…), stable per appid. */
export function ghId(app: SimApp): string {
  return `gh_${createHash('sha1').update(app.appid).digest('hex').slice(0, 12)}`;
}
