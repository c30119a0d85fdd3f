// The PC login's live status (issue 13 §3) without a server: SSE first, long-poll when SSE yields
// nothing, plain polling when long-polls fail. rawRequest is replaced; EventSource is a stub.
import { afterEach, describe, expect, it, vi } from 'vitest';

const calls: string[] = [];
let answer: (path: string) => Promise<unknown>;
vi.mock('../api/request', async (original) => {
  const real = await original<typeof import('../api/request')>();
  return { ...real, rawRequest: (req: { path: string }) => (calls.push(req.path), answer(req.path)) };
});
vi.mock('../stores/auth', () => ({ useAuthStore: () => ({ setSession: () => {} }) }));

const { watchAttempt } = await import('../api/pc-login');
const { ApiError } = await import('../api/request');

const initial = { status: 'waiting' as const, version: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() };

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
      stop = watchAttempt(initial, (state, via) => {
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
      watchAttempt(initial, (state, via) => {
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
