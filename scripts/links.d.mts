// Types of scripts/links.mjs.
export const MODULE_LINKS: { path: string; target: string }[];
export function ensureLinks(root: string, platform?: string): string[];
