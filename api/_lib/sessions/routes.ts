import { Hono } from 'hono';
import { AppError } from '../errors.js';
import { requireSession, type AuthVariables } from '../http/auth.js';
import type { SessionManager } from './sessions.js';
import type { Store } from '../store/types.js';

/** A person's sessions: list, end one, end all (退出所有设备). */
export function sessionRoutes(store: Store, sessions: SessionManager) {
  const auth = requireSession(sessions);
  return new Hono<{ Variables: AuthVariables }>()
    .get('/', auth, async (c) => {
      const list = await store.getUserSessions(c.var.user.id);
      return c.json(
        {
          sessions: list
            .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
            .map((s) => ({ id: s.id.slice(0, 16), via: s.via, createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt.toISOString(), current: s.id === c.var.session.id })),
        },
        200,
        { 'cache-control': 'no-store' },
      );
    })
    .delete('/', auth, async (c) => {
      await sessions.invalidateUser(c.var.user.id);
      return c.body(null, 204);
    })
    .delete('/:id', auth, async (c) => {
      // Sessions are named by the first 16 hex characters of their id (itself a hash of the token).
      const prefix = c.req.param('id');
      const target = /^[0-9a-f]{16}$/.test(prefix) ? (await store.getUserSessions(c.var.user.id)).find((s) => s.id.startsWith(prefix)) : undefined;
      if (!target) throw new AppError('not_found', '会话不存在');
      await store.deleteSession(target.id);
      return c.body(null, 204);
    });
}
