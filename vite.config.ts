import { defineConfig, type Plugin } from 'vite';
import uni from '@dcloudio/vite-plugin-uni';

// Run through `node scripts/uni.mjs <dev|build> <h5|mp-weixin>`: it sets the absolute
// UNI_INPUT_DIR (client/), places manifest.json there and passes VITE_* settings.
// H5 talks to the API on the same origin (/api); in development vite proxies /api to the API.
const apiTarget = process.env.VITE_DEV_API_TARGET || 'http://127.0.0.1:3000';

// `@dcloudio/vite-plugin-uni` is CommonJS: its default export can arrive wrapped.
const uniPlugin = ((uni as unknown as { default?: typeof uni }).default ?? uni) as typeof uni;

/**
 * The page is opened by the mini-program's web-view with a one-time `?wv_ticket=`: no request of
 * the page may carry it in a Referer. index.html declares `strict-origin` (a Referer is the origin
 * alone, never path or query — what browsers already send cross-origin, so WeChat's pages see no
 * change), but uni prepends its framework stylesheet to <head> (a post hook), which would load
 * before the policy is read. This hook runs after uni's and puts the policy first in <head>
 * (docs/SECURITY.md, client/tests/h5-doors.test.ts).
 */
const REFERRER_META = /\s*<meta name="referrer"[^>]*>/g;
function referrerPolicyFirst(): Plugin {
  return {
    name: 'referrer-policy-first',
    transformIndexHtml: {
      order: 'post',
      // index.html's own <meta name="referrer"> (the one place it is written), moved first in <head>
      handler: (html) => {
        const meta = html.match(REFERRER_META)?.[0]?.trim();
        if (!meta) throw new Error('index.html must declare <meta name="referrer" content="strict-origin" /> (web-view wv_ticket, docs/SECURITY.md)');
        return html.replace(REFERRER_META, '').replace(/<head>/i, (head) => `${head}\n    ${meta}`);
      },
    },
  };
}

export default defineConfig({
  plugins: [uniPlugin(), referrerPolicyFirst()],
  server: {
    // H5_PORT moves the H5 dev server; when the port is busy vite takes the next free one and says so.
    port: Number(process.env.H5_PORT) || 5173,
    strictPort: false,
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false },
    },
  },
});
