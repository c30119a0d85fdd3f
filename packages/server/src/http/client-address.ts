import { BlockList, isIP, isIPv4 } from 'node:net';
import type { Context } from 'hono';

/**
 * Where the client's address comes from: the TCP peer, or a request header (lower-case name) that
 * the deployment's own proxy sets — `x-forwarded-for`, `x-real-ip`, or a CDN's own header.
 * Headers are trusted only when the deployment says so (CLIENT_ADDRESS_HEADER).
 */
export type ClientAddressSource = 'socket' | 'x-forwarded-for' | 'x-real-ip' | (string & {});

export interface ClientAddressSettings {
  source: ClientAddressSource;
  /**
   * How many proxies of this deployment append to the header (CLIENT_ADDRESS_HOPS,
   * default 1). Each appends the address it received the connection from, so the client is the
   * `hops`-th entry from the right; anything left of it was written by the client and is ignored.
   */
  hops: number;
  /**
   * CLIENT_ADDRESS_TRUSTED_PROXIES: addresses / CIDR ranges of the proxy that connects to this
   * server. When set, the header is believed only on a connection from one of them; a request that
   * reaches the origin directly is keyed by its own TCP address. Empty: the header is believed
   * (the origin must then be reachable only through the proxy, docs/DEPLOY.md).
   */
  trustedProxies: string[];
}

/**
 * One address in its canonical spelling, or null when it is not an address: surrounding spaces and
 * quotes, an `ip:port` / `[v6]:port` suffix and a zone id dropped; IPv4-mapped IPv6 (`::ffff:a.b.c.d`
 * in any spelling) becomes IPv4; IPv6 lower-case and compressed (RFC 5952, through the URL parser).
 */
export function canonicalAddress(raw: string | null | undefined): string | null {
  if (!raw) return null;
  let value = raw.trim().replace(/^"(.*)"$/, '$1');
  const withPort = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value) ?? /^([\d.]+):(\d{1,5})$/.exec(value);
  if (withPort) {
    if (withPort[2] !== undefined && Number(withPort[2]) > 65535) return null;
    value = withPort[1]!;
  }
  value = value.replace(/%[\w.-]+$/, ''); // zone id (fe80::1%eth0)
  const kind = isIP(value);
  if (kind === 4) return value;
  if (kind !== 6) return null;
  let v6: string;
  try {
    v6 = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (mapped) {
    const [hi, lo] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return v6;
}

const blockLists = new WeakMap<string[], BlockList>();
/** The trusted ranges as a BlockList, built once per settings array. */
function trustedList(ranges: string[]): BlockList {
  let list = blockLists.get(ranges);
  if (!list) {
    list = new BlockList();
    for (const range of ranges) {
      const [address, bits] = range.split('/') as [string, string | undefined];
      const canonical = canonicalAddress(address);
      if (!canonical) continue; // refused by the configuration check (parseTrustedProxies)
      const family = isIPv4(canonical) ? 'ipv4' : 'ipv6';
      if (bits === undefined) list.addAddress(canonical, family);
      else list.addSubnet(canonical, Number(bits), family);
    }
    blockLists.set(ranges, list);
  }
  return list;
}

/** CLIENT_ADDRESS_TRUSTED_PROXIES: comma-separated addresses or CIDR ranges; the entries that are neither. */
export function parseTrustedProxies(value: string | undefined): { ranges: string[]; invalid: string[] } {
  const ranges: string[] = [];
  const invalid: string[] = [];
  for (const item of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address, bits, extra] = item.split('/');
    const canonical = canonicalAddress(address);
    const max = canonical && isIPv4(canonical) ? 32 : 128;
    const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
    if (canonical && okBits && extra === undefined) ranges.push(bits === undefined ? canonical : `${canonical}/${bits}`);
    else invalid.push(item);
  }
  return { ranges, invalid };
}

function socketAddress(c: Context): string | null {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return canonicalAddress(incoming?.socket?.remoteAddress);
}

/**
 * The canonical address of the client that sent this request (for rate limits and the PC login's
 * network location), or null when none is known. The header's `hops`-th entry from
 * the right — the one the outermost proxy of this deployment appended (on Vercel, which replaces the
 * header with the client's address, the only entry: hops 1); fewer entries than hops means a proxy
 * in the chain was skipped, and the left-most is then the closest to the client a proxy wrote.
 * A configured proxy range must contain the TCP peer, else the header is ignored; an entry that is
 * not an address (`unknown`, garbage) counts as absent and the TCP peer is used.
 */
export function clientAddress(c: Context, settings: ClientAddressSettings): string | null {
  if (settings.source === 'socket') return socketAddress(c);
  const peer = socketAddress(c);
  if (settings.trustedProxies.length) {
    if (!peer || !trustedList(settings.trustedProxies).check(peer, isIPv4(peer) ? 'ipv4' : 'ipv6')) return peer;
  }
  // one value (x-real-ip) or a list each proxy appends to (x-forwarded-for): the same rule
  const entries = (c.req.header(settings.source) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return canonicalAddress(entries[Math.max(0, entries.length - Math.max(1, settings.hops))]) ?? peer;
}
