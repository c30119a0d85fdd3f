import { BlockList, isIP } from 'node:net';

/**
 * Where a network address is, for the phone's confirmation page (QR relay defence, docs/SECURITY.md):
 * region/city from an OFFLINE IP-region database (the `ip2region` package: its IPv4 and IPv6
 * databases ship inside the package, Chinese names, no network call), plus a masked address.
 *
 * The databases (~11 MB) are read lazily, on the first confirmation page of this instance, never
 * on a login or /api/auth/health; on Vercel that page is its own function (api/pc-confirm.ts), so the
 * login function neither ships nor loads them.
 */
export interface NetworkLocation {
  /** what the page shows: 广东省深圳市, 美国, 本地网络/内网, 未知位置 */
  label: string;
  /** masked address: 113.88.*.*, 240e:47d:*:*:*:*:*:* ('' when there is none) */
  masked: string;
  /** compared between the PC and the phone; null = not comparable (private network, unknown) */
  region: string | null;
  kind: 'public' | 'private' | 'unknown';
}

export const LOCAL_NETWORK = '本地网络/内网';
export const UNKNOWN_LOCATION = '未知位置';

const PRIVATE = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::1', 128], ['::', 128], ['fc00::', 7], ['fe80::', 10]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

/** The first two IPv4 octets or the first two IPv6 groups; the rest as `*`. */
export function maskAddress(address: string): string {
  if (isIP(address) === 4) return address.split('.').slice(0, 2).concat('*', '*').join('.');
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return [...groups.slice(0, 2), ...Array(6).fill('*')].join(':');
}

interface Region {
  country: string;
  province: string;
  city: string;
}
type Searcher = { search(ip: string): Region | null };
let searcher: Promise<Searcher> | null = null;

/** Whether this instance has loaded the database (tests: a login or /api/auth/health must not). */
export const databaseLoaded = () => searcher !== null;

/** The database, loaded on first use (its files are read synchronously once, ~10 ms). */
function database(): Promise<Searcher> {
  searcher ??= import('ip2region').then((mod) => {
    const IP2Region = ((mod as { default: unknown }).default as { default?: unknown }).default ?? (mod as { default: unknown }).default;
    return new (IP2Region as new () => Searcher)();
  });
  searcher.catch(() => (searcher = null)); // a failed load is retried by the next page
  return searcher;
}

/** 北京 and 北京市, 广西 and 广西壮族自治区 name the same place */
const placeKey = (name: string) => name.replace(/(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$/, '');

function labelOf(r: Region): string {
  const china = r.country === '中国';
  const parts = china ? [r.province, r.city] : [r.country, r.province, r.city];
  const unique = parts.filter((p, i) => p && !parts.slice(0, i).some((q) => q && placeKey(q) === placeKey(p)));
  return unique.join(china ? '' : ' ') || (china ? '中国' : '');
}

/**
 * Where `address` is — in its canonical spelling, as http/client-address.ts derives every client
 * address (IPv4-mapped IPv6 as IPv4, IPv6 compressed, no port or zone); anything else is 未知位置. Private, loopback and link-local addresses are 本地网络/内网; an address the
 * database does not know (or no address) is 未知位置. Never throws: a database failure is 未知位置.
 * `region` (what the PC's and the phone's are compared by) is the province in mainland China and
 * the country elsewhere — mobile networks often place a phone in its province's capital, so cities
 * are shown but not compared.
 */
export async function locate(address: string | null | undefined): Promise<NetworkLocation> {
  const ip = address && isIP(address) ? address : null;
  if (!ip) return { label: UNKNOWN_LOCATION, masked: '', region: null, kind: 'unknown' };
  const masked = maskAddress(ip);
  if (PRIVATE.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6')) return { label: LOCAL_NETWORK, masked, region: null, kind: 'private' };
  let found: Region | null = null;
  try {
    found = (await database()).search(ip);
  } catch {
    found = null;
  }
  const label = found ? labelOf(found) : '';
  if (!found || !label || /内网|本机|局域网|保留/.test(`${found.city}${found.province}`)) return { label: UNKNOWN_LOCATION, masked, region: null, kind: 'unknown' };
  const region = found.country === '中国' && found.province ? `中国:${placeKey(found.province)}` : found.country || null;
  return { label, masked, region, kind: 'public' };
}

/** True when both places are known and differ (the page then warns in red). */
export function differentRegions(pc: NetworkLocation, phone: NetworkLocation): boolean {
  if (!pc.region || !phone.region) return false;
  const [pcCountry, pcProvince] = pc.region.split(':');
  const [phoneCountry, phoneProvince] = phone.region.split(':');
  if (pcCountry !== phoneCountry) return true;
  // one side only known to be in China (no province): nothing more to compare
  return Boolean(pcProvince && phoneProvince && pcProvince !== phoneProvince);
}
