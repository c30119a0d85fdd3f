import { defineConfig } from 'vitest/config';

// `npx vitest run --config client/tests/screenshots/vitest.config.mts` — renders the compiled
// mini-program pages (miniprogram-simulate, jsdom) and the H5 build, and saves PNGs for the docs.
export default defineConfig({
  test: {
    include: ['client/tests/screenshots/capture.ts'],
    environment: 'jsdom',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
