import { describe, expect, it } from 'vitest';
import { chooseDoor, configuredDoors, offeredDoors, parseServerDoors, type Door, type ServerDoor } from '../uni_modules/wlu-wxlogin/platform/door';
import { pickPcForm } from '../uni_modules/wlu-wxlogin/platform/pc';

/**
 * The door table with real User-Agent strings (as sent by the named clients; WeChat's own are from
 * devices and the community threads on developers.weixin.qq.com). Each row: who, UA, extra
 * environment, the door with a website app configured, the door with only an official account.
 */
const ALL = { web: true, oa: true, oaFollow: true };
const OA_ONLY = { web: false, oa: true, oaFollow: true };

const rows: Array<{ who: string; ua: string; wxjs?: string; touch?: number; door: Door; oaOnly?: Door }> = [
  { who: 'Chrome on Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', door: 'web-qr', oaOnly: 'oa-qr' },
  { who: 'Edge on Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80', door: 'web-qr', oaOnly: 'oa-qr' },
  { who: 'Firefox on Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0', door: 'web-qr', oaOnly: 'oa-qr' },
  { who: 'Safari on macOS', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15', touch: 0, door: 'web-qr', oaOnly: 'oa-qr' },
  { who: 'Chrome on Linux', ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', door: 'web-qr', oaOnly: 'oa-qr' },
  { who: '360 browser (Chromium) on Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.5359.95 Safari/537.36 QIHU 360SE', door: 'web-qr', oaOnly: 'oa-qr' },
  { who: 'WeChat on iPhone', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN', wxjs: 'browser', door: 'oa-authorize' },
  { who: 'WeChat on Android (XWEB)', ua: 'Mozilla/5.0 (Linux; Android 14; V2309A Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64', door: 'oa-authorize' },
  { who: 'WeChat for Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090a13) XWEB/9129 Flue', door: 'oa-authorize' },
  { who: 'WeChat for Mac', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) MicroMessenger/6.8.0(0x16080000) MacWechat/3.8.7(0x13080712) XWEB/1191 Flue', door: 'oa-authorize' },
  { who: 'WeChat on HarmonyOS NEXT', ua: 'Mozilla/5.0 (Phone; OpenHarmony 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36 ArkWeb/4.1.6.1 Mobile MicroMessenger/8.0.1.30(0xf3c0011e) NetType/WIFI Language/zh_CN', door: 'oa-authorize' },
  { who: 'mini-program web-view on Android (miniProgram in UA)', ua: 'Mozilla/5.0 (Linux; Android 13; M2012K11AC Build/TKQ1.220829.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 XWEB/5317 MMWEBSDK/20230805 MMWEBID/6153 MicroMessenger/8.0.42.2460(0x28002A58) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef', door: 'mini-webview' },
  { who: 'mini-program web-view on iPhone (miniProgram in UA)', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282c) NetType/WIFI Language/zh_CN miniProgram/wx1234567890abcdef', door: 'mini-webview' },
  { who: 'mini-program web-view on an old iPhone client (__wxjs_environment only)', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/6.7.4(0x1607042c) NetType/WIFI Language/zh_CN', wxjs: 'miniprogram', door: 'mini-webview' },
  { who: 'WeCom (企业微信) on iPhone', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 wxwork/4.1.16 MicroMessenger/7.0.1 Language/zh ColorScheme/Light', door: 'wecom' },
  { who: 'WeCom on Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0.2785.116 Safari/537.36 QBCore/4.0.1326.400 QQBrowser/9.0.2524.400 Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/53.0.2875.116 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63040026) wxwork/4.0.0 (MicroMessenger/6.2) WeChat/2.0.4', door: 'wecom' },
  { who: 'Safari on iPhone', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1', door: 'open-in-wechat' },
  { who: 'Chrome on Android', ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36', door: 'open-in-wechat' },
  { who: 'Safari on iPad (iPadOS asks for the desktop site)', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15', touch: 5, door: 'open-in-wechat' },
  { who: 'QQ on Android', ua: 'Mozilla/5.0 (Linux; Android 12; PEQM00 Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/98.0.4758.102 MQQBrowser/6.2 TBS/046279 Mobile Safari/537.36 V1_AND_SQ_8.9.38_4162_YYB_D QQ/8.9.38.10545 NetType/WIFI WebP/0.3.0 AppId/537155547', door: 'open-in-wechat' },
  { who: 'Alipay on iPhone', ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Ariver/1.1.0 AliApp(AP/10.5.36.6000) Nebula WK RVKType(0) AlipayDefined(nt:WIFI,ws:390|780|3.0) AlipayClient/10.5.36.6000 Language/zh-Hans Region/CN NebulaX/1.0.0', door: 'open-in-wechat' },
  { who: 'Huawei browser on HarmonyOS', ua: 'Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00; HMSCore 6.13.0.302) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 Mobile Safari/537.36', door: 'open-in-wechat' },
];

describe('the right door on every device (packages/wlu-wxlogin/platform/door.ts)', () => {
  for (const row of rows) {
    it(`${row.who} → ${row.door}`, () => {
      const env = { userAgent: row.ua, wxjsEnvironment: row.wxjs, maxTouchPoints: row.touch };
      expect(chooseDoor({ ...env, configured: ALL })).toBe(row.door);
      expect(chooseDoor({ ...env, configured: OA_ONLY })).toBe(row.oaOnly ?? row.door);
    });
  }
  it('with nothing configured for the browser, a PC says so instead of showing a dead QR', () => {
    expect(chooseDoor({ userAgent: rows[0]!.ua, configured: { web: false, oa: false, oaFollow: false } })).toBe('unavailable');
    expect(chooseDoor({ userAgent: rows[6]!.ua, configured: { web: true, oa: false, oaFollow: false } })).toBe('unavailable');
    // an official account for web authorization but no server URL: no follow QR on PC
    expect(chooseDoor({ userAgent: rows[0]!.ua, configured: { web: false, oa: true, oaFollow: false } })).toBe('unavailable');
  });
  it('WeChat\'s own browser reports __wxjs_environment = browser: still the official account', () => {
    expect(chooseDoor({ userAgent: rows[6]!.ua, wxjsEnvironment: 'browser', configured: ALL })).toBe('oa-authorize');
  });
});

describe('what the deployment configured (VITE_LOGIN_DOORS) and the PC form it leads to', () => {
  const pc = rows[0]!.ua;
  it('defaults to the website QR and OA authorization; lists are read exactly', () => {
    expect(configuredDoors(undefined)).toEqual({ web: true, oa: true, oaFollow: false });
    expect(configuredDoors('oa, oa-follow')).toEqual({ web: false, oa: true, oaFollow: true });
    expect(configuredDoors('web')).toEqual({ web: true, oa: false, oaFollow: false });
    expect(configuredDoors('webx,oa-followers')).toEqual({ web: false, oa: false, oaFollow: false });
  });
  it('a site with only an official account gives a PC the follow QR, whatever the PC form setting says', () => {
    const door = chooseDoor({ userAgent: pc, configured: configuredDoors('oa,oa-follow') });
    expect(door).toBe('oa-qr');
    expect(pickPcForm(null, 'redirect', door)).toBe('follow');
    expect(pickPcForm('embedded', undefined, door)).toBe('follow');
    // with a website app the setting (or ?pc_login=) decides
    const web = chooseDoor({ userAgent: pc, configured: configuredDoors('web,oa') });
    expect(web).toBe('web-qr');
    expect(pickPcForm(null, 'embedded', web)).toBe('embedded');
    expect(pickPcForm('own-qr', 'embedded', web)).toBe('own-qr');
    expect(pickPcForm(null, undefined, web)).toBe('redirect');
    expect(pickPcForm('nonsense', undefined, web)).toBe('redirect');
  });
});

describe('what the server lists (GET <basePath>/doors) decides the doors; the host\'s option only hides', () => {
  const pc = rows[0]!.ua;
  const wechat = rows[6]!.ua;
  const mini = { name: 'mini', kind: 'mini', appid: 'wx0000000000000001' };
  const web = { name: 'web', kind: 'web', appid: 'wx0000000000000002' };
  const oa = { name: 'oa', kind: 'oa', appid: 'wx0000000000000003' };
  const pcDoor = { name: 'pc', kind: 'pc' };
  const follow = { name: 'follow', kind: 'follow' };
  const notGiven = { doors: configuredDoors(undefined), given: false };
  const offer = (server: ServerDoor[] | null, host = notGiven, miniProgram = 'mini') => offeredDoors(server, host, miniProgram);

  it('a server without a website AppID: no website QR on a PC, whatever the host\'s default says', () => {
    expect(chooseDoor({ userAgent: pc, configured: offer([mini, oa]) })).toBe('unavailable');
    // with the official account's PC login: our own QR, confirmed in WeChat (no website forms)
    const door = chooseDoor({ userAgent: pc, configured: offer([mini, oa, pcDoor]) });
    expect(door).toBe('pc-qr');
    expect(pickPcForm(null, 'redirect', door)).toBe('own-qr');
    expect(pickPcForm('embedded', undefined, door)).toBe('own-qr');
    expect(chooseDoor({ userAgent: pc, configured: offer([mini, oa, follow]) })).toBe('oa-qr');
  });
  it('a server with it: the website QR; inside WeChat the official account only when listed', () => {
    expect(chooseDoor({ userAgent: pc, configured: offer([mini, web]) })).toBe('web-qr');
    expect(chooseDoor({ userAgent: wechat, configured: offer([mini, web]) })).toBe('unavailable');
    expect(chooseDoor({ userAgent: wechat, configured: offer([mini, web, oa]) })).toBe('oa-authorize');
  });
  it('the host\'s doors hide a listed door and never add one the server lacks', () => {
    const onlyOa = { doors: configuredDoors('oa'), given: true };
    expect(offer([mini, web, oa, pcDoor], onlyOa)).toEqual({ web: false, oa: true, oaFollow: false, pc: true, mini: true });
    const all = { doors: configuredDoors('web,oa,oa-follow'), given: true };
    expect(offer([mini], all)).toEqual({ web: false, oa: false, oaFollow: false, pc: false, mini: true });
  });
  it('mp-weixin: the mini door named by the miniProgram option', () => {
    expect(offer([mini], notGiven, 'mini').mini).toBe(true);
    expect(offer([mini], notGiven, 'mini-shop').mini).toBe(false);
    expect(offer([web, oa], notGiven, 'mini').mini).toBe(false);
  });
  it('the server could not be asked: the host\'s options alone, as before', () => {
    expect(offer(null)).toEqual({ web: true, oa: true, oaFollow: false, pc: false, mini: true });
    expect(offer(null, { doors: configuredDoors('oa,oa-follow'), given: true })).toEqual({ web: false, oa: true, oaFollow: true, pc: false, mini: true });
  });
  it('reads only the list shape (an HTML page or an envelope is not a list)', () => {
    expect(parseServerDoors({ doors: [mini, { name: 1 }, null] })).toEqual([mini]);
    expect(parseServerDoors('<html>')).toBeNull();
    expect(parseServerDoors({ error: { code: 'not_found' } })).toBeNull();
  });
});
