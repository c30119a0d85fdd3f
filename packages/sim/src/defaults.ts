/**
 * The development defaults the CLI and this repository's dev stack (scripts/lib/stack.ts) share:
 * the placeholder mini-program AppID, the AppIDs derived from it and the redirect domains.
 */

/** The mini-program AppID used when none is given (the repository's manifest.json placeholder). */
export const DEFAULT_MINI_APPID = 'wxd0c0ffee00000001';

/** The AppIDs derived from the mini-program's for the default website (+1) and official account (+2) apps. */
export function derivedAppid(miniAppid: string, offset: number): string {
  const n = (BigInt(`0x${miniAppid.slice(2)}`) + BigInt(offset)) % (1n << 64n);
  return `wx${n.toString(16).padStart(16, '0')}`;
}

/**
 * The default 授权回调域 / 网页授权域名 of the website and official-account apps: localhost,
 * 127.0.0.1, the host listened on and the public URL's host — never a wildcard address (0.0.0.0, ::)
 * or an empty one; an unparsable public URL adds nothing.
 */
export function defaultDomains(host: string, publicUrl?: string | null): string[] {
  const hosts = ['localhost', '127.0.0.1', host];
  try {
    if (publicUrl) hosts.push(new URL(publicUrl).hostname);
  } catch {}
  return [...new Set(hosts.filter((h) => h && h !== '0.0.0.0' && h !== '::'))];
}
