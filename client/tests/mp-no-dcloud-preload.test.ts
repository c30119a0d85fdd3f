// uni-app's mp-weixin runtime preloads an image from DCloud's CDN (its path encodes the AppID)
// 3 s after start. The release bundle must not send devices there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ensureMpBuild } from './support/build';
import { createFakeWx, loadPage, runnableCopy } from './support/mp';

it('Should not preload DCloud CDN assets from the release bundle', async () => {
  const bundle = runnableCopy(await ensureMpBuild());
  try {
    // the runtime still contains the call (so this test means something)…
    expect(readFileSync(join(bundle.dir, 'common/vendor.js'), 'utf8')).toContain('preloadAssets');
    const fake = createFakeWx({ apiUrl: 'http://127.0.0.1:9', login: async () => 'unused' });
    await loadPage(bundle.dir, 'uni_modules/wlu-wxlogin/pages/login/index', fake);
    await new Promise((r) => setTimeout(r, 3_500));
    // …but nothing reaches wx.preloadAssets for a DCloud host
    expect(fake.calls.preloadAssets.filter((src) => /dcloud/i.test(src))).toEqual([]);
  } finally {
    bundle.remove();
  }
});
