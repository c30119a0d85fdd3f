// The PC login's live status (issue 13 §3) without a server: SSE first, long-poll when SSE yields
// nothing, plain polling when long-polls fail. rawRequest is replaced; EventSource is a stub.
import { afterEach, describe, expect, it, vi } from 'vitest';

const calls: string[] = [];
let answer: (path: string) => Promise<unknown>;
vi.mock('../uni_modules/wlu-wxlogin/request/transport', async (original) => {
  const real = await original<typeof import('../uni_modules/wlu-wxlogin/request/transport')>();
  return { ...real, rawRequest: (req: { url: string }) => (calls.push(req.url), answer(req.url)) };
});
/** The store's url(): `${apiBase}${basePath}${path}` with apiBase '' (H5 on the API's origin). */
const url = (path: string) => `/api/auth${path}`;

const { watchAttempt } = await import('../uni_modules/wlu-wxlogin/request/pc-login');
const { ApiError } = await import('../uni_modules/wlu-wxlogin/request/transport');

const initial = { status: 'waiting' as const, version: 1, expiresAt: new Date(Date.now() + 60_000).toISOString(), match: '42' };

afterEach(() => {
  calls.length = 0;
  vi.unstubAllGlobals();
});

class FailingEventSource {
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    setTimeout(() => this.onerror?.(), 5); // blocked: an error before any event
  }
  addEventListener() {}
  close() {}
}

describe('watchAttempt', () => {
  it('Should fall back to long-polling when Server-Sent Events fail before their first event', async () => {
    vi.stubGlobal('EventSource', FailingEventSource);
    answer = async () => ({ ...initial, status: 'scanned', version: 2 });
    const seen: [string, string][] = [];
    let stop = () => {};
    await new Promise<void>((done) => {
      stop = watchAttempt(url, initial, (state, via) => {
        seen.push([state.status, via]);
        done();
      });
    });
    stop();
    expect(seen[0]).toEqual(['scanned', 'long-poll']);
    expect(calls[0]).toBe('/api/auth/pc/status?wait=1&version=1');
  });

  it('Should fall back to plain polling after two failed long-polls, and stop at a final status', async () => {
    vi.stubGlobal('EventSource', undefined);
    answer = async (path) => {
      if (path.includes('wait=1')) throw new ApiError('network_error', 0, '网络不可用，请重试');
      return { ...initial, status: 'confirmed', version: 3 };
    };
    const seen: [string, string][] = [];
    await new Promise<void>((done) => {
      watchAttempt(url, initial, (state, via) => {
        seen.push([state.status, via]);
        done();
      }, { pollMs: 10 });
    });
    expect(seen).toEqual([['confirmed', 'poll']]);
    expect(calls.filter((p) => p.includes('wait=1'))).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.at(-1)).toBe('/api/auth/pc/status'); // nothing after the final status
    const count = calls.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.length).toBe(count);
  });
});

/**
 * A stream that delivers its first event and then ends; the browser's reconnect is answered 429 (the
 * API's limits), so EventSource gives up for good: readyState CLOSED and one last error (what
 * Chromium does with a non-200 reconnect).
 */
class RefusedReconnectEventSource {
  static instances: RefusedReconnectEventSource[] = [];
  onerror: (() => void) | null = null;
  readyState = 0;
  closed = false;
  private listener: ((event: { data: string }) => void) | null = null;
  constructor(readonly url: string) {
    RefusedReconnectEventSource.instances.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.listener?.({ data: JSON.stringify(initial) });
    }, 5);
    setTimeout(() => {
      this.readyState = 2; // CLOSED: it will not reconnect
      this.onerror?.();
    }, 20);
  }
  addEventListener(_: string, listener: (event: { data: string }) => void) {
    this.listener = listener;
  }
  close() {
    this.closed = true;
  }
}

/** Resolves with the first final status the watcher delivers, or 'nothing' after `ms`. */
function firstFinal(options: Parameters<typeof watchAttempt>[3], ms: number) {
  const seen: [string, string][] = [];
  return new Promise<{ seen: [string, string][]; result: string }>((done) => {
    const stop = watchAttempt(url, initial, (state, via) => {
      seen.push([state.status, via]);
      if (state.status === 'confirmed') done({ seen, result: 'confirmed' });
    }, options);
    setTimeout(() => {
      stop();
      done({ seen, result: 'nothing' });
    }, ms);
  });
}

describe('watchAttempt after a 429 (issue 18 §5)', () => {
  it('Should not wait forever on a stream the browser closed after a refused reconnect: status requests take over, waiting out Retry-After', async () => {
    RefusedReconnectEventSource.instances = [];
    vi.stubGlobal('EventSource', RefusedReconnectEventSource);
    const at: number[] = [];
    answer = async () => {
      at.push(Date.now());
      // the first status request is refused too (same limit), with Retry-After: 1
      if (at.length === 1) throw new ApiError('too_many_requests', 429, '操作过于频繁，请稍后再试', 1);
      return { ...initial, status: 'confirmed', version: 4 };
    };
    const { seen, result } = await firstFinal({ pollMs: 10 }, 5000);
    expect(result).toBe('confirmed'); // the phone confirmed: the PC sees it
    expect(seen.at(-1)).toEqual(['confirmed', 'long-poll']);
    expect(RefusedReconnectEventSource.instances[0]!.closed).toBe(true);
    expect(at).toHaveLength(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(1000); // waited as asked
  });

  it('Should honour Retry-After while plain polling instead of asking again every poll interval', async () => {
    vi.stubGlobal('EventSource', undefined);
    const polls: number[] = [];
    answer = async (path) => {
      if (path.includes('wait=1')) throw new ApiError('network_error', 0, '网络不可用，请重试');
      polls.push(Date.now());
      if (polls.length === 1) throw new ApiError('too_many_requests', 429, '操作过于频繁，请稍后再试', 1);
      return { ...initial, status: 'confirmed', version: 5 };
    };
    const { result } = await firstFinal({ pollMs: 10 }, 6000);
    expect(result).toBe('confirmed');
    expect(polls).toHaveLength(2);
    expect(polls[1]! - polls[0]!).toBeGreaterThanOrEqual(1000);
  });
});
