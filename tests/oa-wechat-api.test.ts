import { describe, expect, it } from 'vitest';
import { createTemporaryQrCode } from '../packages/server/src/wechat/oa/qrcode_create.js';
import { showQrCodeUrl } from '../packages/server/src/wechat/oa/showqrcode.js';
import { getFollowerInfo } from '../packages/server/src/wechat/oa/user_info.js';
import { oauth2RefreshToken } from '../packages/server/src/wechat/sns/oauth2_refresh_token.js';
import { snsAuth } from '../packages/server/src/wechat/sns/auth.js';
import { WechatApiError, WechatUnavailableError, type WechatTransport } from '../packages/server/src/wechat/transport.js';

/** The official account's API functions against a recording fake transport (wechat-api-facts.md §5, §7). */
function fake(reply: (path: string) => unknown) {
  const calls: Array<{ method: string; path: string; query: Record<string, string>; body?: unknown }> = [];
  const transport: WechatTransport = {
    async get<T>(path: string, query: Record<string, string>) {
      calls.push({ method: 'GET', path, query });
      const r = reply(path);
      if (r instanceof Error) throw r;
      return r as T;
    },
    async postJson<T>(path: string, query: Record<string, string>, body: unknown) {
      calls.push({ method: 'POST', path, query, body });
      const r = reply(path);
      if (r instanceof Error) throw r;
      return r as T;
    },
  };
  return { transport, calls };
}

describe('cgi-bin/qrcode/create (§7)', () => {
  it('asks for a temporary QR_STR_SCENE code with the scene and expiry', async () => {
    const { transport, calls } = fake(() => ({ ticket: 'gQH47joAAA==', expire_seconds: 300, url: 'http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI' }));
    expect(await createTemporaryQrCode(transport, 'TOKEN', 'la_abc', 300)).toEqual({ ticket: 'gQH47joAAA==', expireSeconds: 300, url: 'http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI' });
    expect(calls).toEqual([{ method: 'POST', path: '/cgi-bin/qrcode/create', query: { access_token: 'TOKEN' }, body: { expire_seconds: 300, action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'la_abc' } } } }]);
  });
  it('refuses a scene or expiry WeChat would not take, before calling', async () => {
    const { transport, calls } = fake(() => ({}));
    await expect(createTemporaryQrCode(transport, 'T', '', 300)).rejects.toThrow(RangeError);
    await expect(createTemporaryQrCode(transport, 'T', 'x'.repeat(65), 300)).rejects.toThrow(RangeError);
    await expect(createTemporaryQrCode(transport, 'T', 'ok', 2_592_001)).rejects.toThrow(RangeError);
    expect(calls).toHaveLength(0);
  });
  it('a reply without ticket/url is WeChat unavailable, not a crash', async () => {
    const { transport } = fake(() => ({ expire_seconds: 60 }));
    await expect(createTemporaryQrCode(transport, 'T', 'ok', 60)).rejects.toBeInstanceOf(WechatUnavailableError);
  });
  it('showqrcode URL-encodes the ticket (§7 "TICKET记得进行UrlEncode")', () => {
    expect(showQrCodeUrl('gQH+47/jo==')).toBe('https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH%2B47%2Fjo%3D%3D');
  });
});

describe('cgi-bin/user/info (§10)', () => {
  it('returns the unionid of a follower; none for an unbound account; retries a -1 once', async () => {
    let n = 0;
    const { transport } = fake(() => (n++ === 0 ? new WechatApiError('/cgi-bin/user/info', -1, 'system error') : { subscribe: 1, openid: 'o1', unionid: 'u1' }));
    expect(await getFollowerInfo(transport, 'T', 'o1')).toEqual({ openid: 'o1', subscribed: true, unionid: 'u1' });
    const unbound = fake(() => ({ subscribe: 0, openid: 'o2' }));
    expect(await getFollowerInfo(unbound.transport, 'T', 'o2')).toEqual({ openid: 'o2', subscribed: false, unionid: null });
  });
});

describe('sns/oauth2/refresh_token and sns/auth (§5)', () => {
  it('refresh keeps the old refresh_token when WeChat sends none; errors propagate for the caller to judge', async () => {
    const { transport, calls } = fake(() => ({ access_token: 'A2', expires_in: 7200, openid: 'o1', scope: 'snsapi_userinfo' }));
    expect(await oauth2RefreshToken(transport, 'wxapp', 'R1')).toEqual({ accessToken: 'A2', expiresIn: 7200, refreshToken: 'R1', openid: 'o1', scope: 'snsapi_userinfo' });
    expect(calls[0]!.query).toEqual({ appid: 'wxapp', grant_type: 'refresh_token', refresh_token: 'R1' });
    const expired = fake(() => new WechatApiError('/sns/oauth2/refresh_token', 42002, 'refresh_token expired'));
    await expect(oauth2RefreshToken(expired.transport, 'wxapp', 'R1')).rejects.toMatchObject({ errcode: 42002 });
  });
  it('sns/auth: ok → true; 40003/40014/42001 → false; anything else propagates', async () => {
    expect(await snsAuth(fake(() => ({ errcode: 0, errmsg: 'ok' })).transport, 'A', 'o')).toBe(true);
    for (const code of [40003, 40014, 42001]) expect(await snsAuth(fake(() => new WechatApiError('/sns/auth', code, 'x')).transport, 'A', 'o')).toBe(false);
    await expect(snsAuth(fake(() => new WechatUnavailableError('/sns/auth', 'timeout', 'x')).transport, 'A', 'o')).rejects.toBeInstanceOf(WechatUnavailableError);
  });
});
