// Types of scripts/sizes.mjs (used by tests/host-uni-preset.test.ts).
export const MP_MAIN_BUDGET: number;
export const LOGIN_FUNCTION_BUDGET: number;
export const MODULE_DIR: string;
/** Bytes of the mp-weixin main package: every file not under a subpackage root declared in app.json. */
export function mpMainPackageBytes(dir: string): number;
/** Bytes the wlu-wxlogin module adds to the main package: its files outside every subpackage root. */
export function mpModuleMainBytes(dir: string): number;
