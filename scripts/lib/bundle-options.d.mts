import type { BuildOptions } from 'esbuild';

export declare const BUNDLE_OPTIONS: BuildOptions;
export declare const DRIVER_OPTIONAL: string[];
export declare const DRIVER_ALIAS: Record<string, string>;
export declare const REQUIRE_BANNER: { js: string };
