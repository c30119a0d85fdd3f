import { Hono } from 'hono';
import { AppError } from '../../errors.js';
import { requireSession, type AuthVariables } from '../auth.js';
import type { SessionManager } from '../../sessions/sessions.js';

/** A person's sessions: list, end one, end all (退出所有设备). The SessionManager does the work. */
export function sessionRoutes(sessions: SessionManager) {
  const auth = requireSession(sessions);
  return new Hono<{ Variables: AuthVariables }>()
    .get('/', auth, async (c) => {
      const list = await sessions.list(c.var.user.id, c.var.session.id);
      return c.json(
        { sessions: list.map((s) => ({ ...s, createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt.toISOString() })) },
        200,
        { 'cache-control': 'no-store' },
      );
    })
    .delete('/', auth, async (c) => {
      await sessions.revokeAll(c.var.user.id);
      return c.body(null, 204);
    })
    .delete('/:id', auth, async (c) => {
      // Sessions are named by the first 16 hex characters of their id (itself a hash of the token).
      if (!(await sessions.revoke(c.var.user.id, c.req.param('id')))) throw new AppError('not_found', '会话不存在');
      return c.body(null, 204);
    });
}
