/**
 * A browser for API-level tests: one User-Agent, a cookie jar per host (Set-Cookie kept, expired or
 * emptied cookies removed), redirects NOT followed (the test reads each Location itself), and the
 * list of URLs it requested. Jar keys are `<host>|<cookie name>`.
 */
export interface CookieBrowser {
  jar: Map<string, string>;
  seen: string[];
  request(url: string, init?: RequestInit): Promise<Response>;
}

export function cookieBrowser(ua: string | null, fetcher: (req: Request) => Response | Promise<Response> = (req) => fetch(req)): CookieBrowser {
  const jar = new Map<string, string>();
  const seen: string[] = [];
  return {
    jar,
    seen,
    async request(url, init = {}) {
      seen.push(url);
      const headers = new Headers(init.headers);
      if (ua) headers.set('user-agent', ua);
      const host = new URL(url).host;
      const cookie = [...jar].filter(([k]) => k.startsWith(`${host}|`)).map(([k, v]) => `${k.split('|')[1]}=${v}`).join('; ');
      if (cookie) headers.set('cookie', cookie);
      const res = await fetcher(new Request(url, { ...init, headers, redirect: 'manual' }));
      for (const line of res.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const [name = '', value = ''] = pair.split('=');
        if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(line) || !value) jar.delete(`${host}|${name}`);
        else jar.set(`${host}|${name}`, value);
      }
      return res;
    },
  };
}
