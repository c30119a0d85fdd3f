// `process.env.UNI_PLATFORM` ('mp-weixin' | 'h5') is replaced at build time by uni's `define`;
// unit tests read the real Node variable. (Separate file: the tests' tsconfig uses @types/node.)
declare const process: { env: Record<string, string | undefined> };
