/**
 * A phone in WeChat following a link (our QR code's /scan URL, a follow reply link) to the page it
 * ends on, as WeChat and the person would: redirects are followed, the simulator's snsapi_userinfo
 * consent is allowed, and our own one-tap consent page (a person we do not know yet) is tapped.
 * `user` (optional) is the simulated person at the official account's authorize step; without it
 * the phone's `sim_user` cookie decides.
 */
export async function followAsPhone(
  request: (url: string, init?: RequestInit) => Promise<Response>,
  link: string,
  options: { simUrl: string; base?: string; user?: string; maxHops?: number },
): Promise<{ html: string; status: number; url: string }> {
  let url = link;
  for (let hop = 0; hop < (options.maxHops ?? 12); hop++) {
    const target = new URL(url, options.base);
    if (options.user && target.pathname === '/connect/oauth2/authorize') target.searchParams.set('sim_user', options.user);
    const res = await request(target.toString());
    const html = await res.text();
    if (res.status === 302) {
      url = new URL(res.headers.get('location')!, target).toString();
      continue;
    }
    const ticket = /data-ticket="([A-Za-z0-9]+)"/.exec(html)?.[1];
    if (ticket) {
      const allowed = await request(`${options.simUrl}/__sim/oa/consent`, { method: 'POST', body: new URLSearchParams({ ticket, action: 'allow' }) });
      url = allowed.headers.get('location')!;
      continue;
    }
    const consent = /id="consent" href="([^"]+)"/.exec(html)?.[1];
    if (consent) {
      url = new URL(consent.replace(/&#38;/g, '&'), target).toString();
      continue;
    }
    return { html, status: res.status, url: target.toString() };
  }
  throw new Error('too many redirects');
}
