/**
 * A code WeChat hands out once (wx.login code, OAuth code, phone code): valid for the app it was
 * issued to, for its lifetime (5 minutes; a website-login code 10), single use (docs/WECHAT.md
 * "jscode2session"). Unknown, expired or another app's → 40029 invalid code; the second use →
 * 40163 code been used. The code is spent here.
 */
export interface OneTimeCode {
  appid: string;
  expiresAt: number;
  used: boolean;
}

/** How long a code is remembered after its lifetime / after a never-valid code was presented. */
export const TRIED_MEMORY_MS = 60 * 60 * 1000;
const TRIED_MAX = 10_000;

/**
 * The codes of one kind. With `rememberTried`, a code is burnt by its first presentation whatever
 * the answer: a never-valid or expired code answers 40029 the first time and 40163 after, as
 * observed from WeChat (docs/WECHAT.md "jscode2session", community thread cited there).
 */
export class CodeBook<T extends OneTimeCode> {
  private readonly codes = new Map<string, T>();
  /** never-valid codes already presented → when they are forgotten */
  private readonly tried = new Map<string, number>();

  constructor(
    private readonly clock: () => number,
    private readonly rememberTried: boolean,
  ) {}

  issue(code: string, entry: T): void {
    const now = this.clock();
    // insertion order is (about) expiry order: stop at the first code still remembered
    for (const [c, v] of this.codes) {
      if (v.expiresAt + TRIED_MEMORY_MS >= now) break;
      this.codes.delete(c);
    }
    this.codes.set(code, entry);
  }

  redeem(code: string, appid: string): T | { errcode: 40029 | 40163 } {
    const now = this.clock();
    const entry = this.codes.get(code);
    if (!entry) {
      if (!this.rememberTried) return { errcode: 40029 };
      for (const [c, until] of this.tried) {
        if (until > now && this.tried.size < TRIED_MAX) break;
        this.tried.delete(c);
      }
      if (this.tried.has(code)) return { errcode: 40163 };
      this.tried.set(code, now + TRIED_MEMORY_MS);
      return { errcode: 40029 };
    }
    if (entry.used) return { errcode: 40163 };
    if (entry.appid !== appid) return { errcode: 40029 };
    if (entry.expiresAt <= now) {
      if (this.rememberTried) entry.used = true;
      return { errcode: 40029 };
    }
    entry.used = true;
    return entry;
  }
}
