/**
 * Build target. uni replaces `process.env.UNI_PLATFORM` with a string literal at build time
 * ('mp-weixin' | 'h5'), so the unused branch is dropped from each bundle. Unit tests set the
 * environment variable, which is why this is read at call time.
 */
export function platform(): string | undefined {
  return process.env.UNI_PLATFORM;
}

export function isMpWeixin(): boolean {
  return process.env.UNI_PLATFORM === 'mp-weixin';
}

export function isH5(): boolean {
  return process.env.UNI_PLATFORM === 'h5';
}
