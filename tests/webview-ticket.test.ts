import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * The mini-program's web-view door (issue 14): the H5 page inside the mini-program logs in from the
 * mini-program's session through a one-time ticket — no second authorization.
 */
let stack: Stack;
let now = Date.now();
beforeAll(async () => {
  stack = await startStack({ overrides: { clock: () => new Date(now) } });
});
afterAll(() => stack.close());

async function miniLogin(user: string) {
  const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });
  expect(res.status).toBe(200);
  return res.body as { token: string; user: { id: string } };
}
const ticketFor = (token: string) => postJson(`${stack.apiUrl}/api/auth/webview/ticket`, {}, { authorization: `Bearer ${token}` });
const exchange = (ticket: string) => postJson(`${stack.apiUrl}/api/auth/webview/session`, { ticket });

describe('web-view ticket', () => {
  it('the mini-program session mints a ticket; the H5 page exchanges it once for its own session of the same account', async () => {
    const mini = await miniLogin('wv-alice');
    const t = await ticketFor(mini.token);
    expect(t.status).toBe(200);
    expect(t.body).toEqual({ ticket: expect.stringMatching(/^[a-z2-7]{32}$/), expiresIn: 60 });
    const h5 = await exchange(t.body.ticket);
    expect(h5.status).toBe(200);
    expect(h5.body.user.id).toBe(mini.user.id);
    expect(h5.body.token).not.toBe(mini.token);
    const me = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${h5.body.token}` } });
    expect(me.status).toBe(200);
    const again = await exchange(t.body.ticket);
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({ error: { code: 'webview_ticket_invalid' } });
  });

  it('two racing exchanges of one ticket: exactly one session', async () => {
    const mini = await miniLogin('wv-bob');
    const { ticket } = (await ticketFor(mini.token)).body;
    const results = await Promise.all([exchange(ticket), exchange(ticket), exchange(ticket)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401]);
  });

  it("a ticket's 60 s are counted on the server's clock only: live at 59.999 s, refused at 60 s (with that clock a day behind the machine's)", async () => {
    const start = Date.now() - 86_400_000;
    now = start;
    try {
      const mini = await miniLogin('wv-clock');
      const first = (await ticketFor(mini.token)).body.ticket as string;
      const second = (await ticketFor(mini.token)).body.ticket as string;
      now = start + 59_999;
      const live = await exchange(first);
      expect(live.status).toBe(200);
      expect(live.body.user.id).toBe(mini.user.id);
      now = start + 60_000;
      expect((await exchange(second)).body).toMatchObject({ error: { code: 'webview_ticket_invalid' } });
    } finally {
      now = Date.now();
    }
  });

  it('an expired ticket, an unknown one and a malformed one are refused', async () => {
    const mini = await miniLogin('wv-carol');
    const { ticket } = (await ticketFor(mini.token)).body;
    now += 61_000;
    try {
      expect((await exchange(ticket)).body).toMatchObject({ error: { code: 'webview_ticket_invalid' } });
    } finally {
      now = Date.now();
    }
    expect((await exchange('a'.repeat(32))).body).toMatchObject({ error: { code: 'webview_ticket_invalid' } });
    const bad = await exchange('not a ticket');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('no Bearer → 401; only a mini-program session mints tickets (a website / official-account session gets 403)', async () => {
    expect((await postJson(`${stack.apiUrl}/api/auth/webview/ticket`, {})).status).toBe(401);
    const mini = await miniLogin('wv-dan');
    const user = (await stack.services.store.accounts.getUser(mini.user.id))!;
    for (const via of ['web-qr', 'oa'] as const) {
      const { token } = await createSessionManager(stack.services.store).create(user, via);
      const res = await ticketFor(token);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { code: 'webview_ticket_mini_only' } });
    }
  });

  it('the web-view session is its own door (`webview`): it cannot mint a ticket, so one ticket never becomes a chain of sessions', async () => {
    const mini = await miniLogin('wv-erin');
    const h5 = await exchange((await ticketFor(mini.token)).body.ticket);
    expect(h5.status).toBe(200);
    const sessions = await fetch(`${stack.apiUrl}/api/auth/sessions`, { headers: { authorization: `Bearer ${h5.body.token}` } });
    const current = ((await sessions.json()) as { sessions: Array<{ via: string; current: boolean }> }).sessions.find((s) => s.current);
    expect(current?.via).toBe('webview');
    const again = await ticketFor(h5.body.token);
    expect(again.status).toBe(403);
    expect(again.body).toMatchObject({ error: { code: 'webview_ticket_mini_only' } });
  });

  it('a ticket dies with the mini-program session that minted it (logged out before the page exchanged it)', async () => {
    const mini = await miniLogin('wv-fay');
    const { ticket } = (await ticketFor(mini.token)).body;
    const logout = await postJson(`${stack.apiUrl}/api/auth/logout`, {}, { authorization: `Bearer ${mini.token}` });
    expect(logout.status).toBeLessThan(300);
    const res = await exchange(ticket);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'webview_ticket_invalid' } });
    // while a ticket of a live session still works
    const other = await miniLogin('wv-fay');
    expect((await exchange((await ticketFor(other.token)).body.ticket)).status).toBe(200);
  });
});
