/** Headless Chromium through playwright-core (CI installs the Debian `chromium` package). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

/** `userAgent` e.g. a WeChat in-app browser's (…MicroMessenger/8.0…) for the official-account login. */
/** WeChat's in-app browser on an iPhone, as its User-Agent says (the doors tell WeChat from others by it). */
export const WECHAT_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';
/** Two sites on one machine: the app at app.test, the WeChat simulator at wx.test (so iframe and cookie rules are the real ones). */
export const TWO_SITES = ['--host-resolver-rules=MAP app.test 127.0.0.1, MAP wx.test 127.0.0.1'];

export async function launchBrowser(options: { userAgent?: string; viewport?: { width: number; height: number }; args?: string[] } = {}) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'client-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: options.viewport ?? { width: 390, height: 844 },
    deviceScaleFactor: 2,
    locale: 'zh-CN',
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...(options.args ?? [])],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export type Browser = Awaited<ReturnType<typeof launchBrowser>>;

/** The two digits the PC login card shows (number matching): a person reads them off the screen. */
export async function digitsOn(pcPage: import('playwright-core').Page): Promise<string> {
  const digits = (await pcPage.locator('.pc-match-digits').first().textContent({ timeout: 5_000 }))!.trim();
  expect(digits, 'the two digits on the PC card').toMatch(/^\d{2}$/);
  return digits;
}

/**
 * WeChat's browser on our phone confirmation page: taps through the snsapi_userinfo consent
 * (#consent, then WeChat's #allow) when it shows, up to the page's digit buttons (#picks).
 */
export async function reachPicks(page: import('playwright-core').Page, timeout = 15_000): Promise<void> {
  const first = await Promise.race([
    page.waitForSelector('#consent', { timeout }).then(() => 'consent' as const),
    page.waitForSelector('#picks', { timeout }).then(() => 'picks' as const),
  ]);
  if (first === 'consent') {
    await page.click('#consent');
    await page.click('#allow');
    await page.waitForSelector('#picks', { timeout });
  }
}

/** A TCP port free on 127.0.0.1 right now (for a server the test starts as a child process). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
