// The esbuild options every bundled function is built with: the server package's dist (packages/server/scripts/build.mjs uses the same settings)
// and the hello-world it is compared with (bench/cold.ts), so a cold-start ratio compares like with like.
export const BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Readable function names in production stack traces.
  keepNames: true,
  logLevel: 'warning',
};
