import { defineConfig } from 'vite';
import uni from '@dcloudio/vite-plugin-uni';

// Run through `node scripts/uni.mjs <dev|build> <h5|mp-weixin>`: it sets the absolute
// UNI_INPUT_DIR (client/), places manifest.json there and passes VITE_* settings.
// H5 talks to the API on the same origin (/api); in development vite proxies /api to the API.
const apiTarget = process.env.VITE_DEV_API_TARGET || 'http://127.0.0.1:3000';

// `@dcloudio/vite-plugin-uni` is CommonJS: its default export can arrive wrapped.
const uniPlugin = ((uni as unknown as { default?: typeof uni }).default ?? uni) as typeof uni;

export default defineConfig({
  plugins: [uniPlugin()],
  server: {
    // H5_PORT moves the H5 dev server; when the port is busy vite takes the next free one and says so.
    port: Number(process.env.H5_PORT) || 5173,
    strictPort: false,
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false },
    },
  },
});
