/**
 * H5 on a PC (issue 13): which login form the PC card shows, and whether this browser is a PC.
 * A phone (narrow screen or a mobile User-Agent) and WeChat's in-app browser keep the phone page.
 */
export type PcLoginForm = 'redirect' | 'embedded' | 'embedded-top' | 'own-qr' | 'follow';
const FORMS: readonly PcLoginForm[] = ['redirect', 'embedded', 'embedded-top', 'own-qr', 'follow'];

/** Forms whose QR code is a login attempt confirmed on the phone (own-qr: our code; follow: the official account's). */
export const isAttemptForm = (form: PcLoginForm): boolean => form === 'own-qr' || form === 'follow';

export function isPcBrowser(): boolean {
  if (typeof window === 'undefined' || typeof navigator === 'undefined') return false;
  if (/MicroMessenger|Android|iPhone|iPad|Mobile/i.test(navigator.userAgent)) return false;
  return window.innerWidth >= 768;
}

/**
 * The form: the plugin's `pcLogin` option (a deployment setting), or `?pc_login=` on the login page's URL
 * (demos and tests). Unknown values fall back to redirect, which needs nothing but the website app.
 */
export function pcLoginForm(configured: string, query?: string | null, door?: string): PcLoginForm {
  return pickPcForm(query, configured, door);
}

/**
 * The form for a PC: `?pc_login=`, else the build's setting, else redirect. A PC whose door is the
 * official account's follow QR (only an official account configured, platform/door.ts)
 * always gets `follow`, and one whose door is our own QR (`pc-qr`: no website app) gets
 * `own-qr` (or `follow` when asked): the website forms need a website app it does not have.
 */
export function pickPcForm(query: string | null | undefined, configured: string | undefined, door?: string): PcLoginForm {
  if (door === 'oa-qr') return 'follow';
  if (door === 'pc-qr') return query === 'follow' || configured === 'follow' ? 'follow' : 'own-qr'; // no website app: no redirect / embedded forms
  const chosen = query || configured || 'redirect';
  return (FORMS as readonly string[]).includes(chosen) ? (chosen as PcLoginForm) : 'redirect';
}
