// With @types/express (4 or 5): the session data declared once reaches req.session.
import express from 'express';
import { createSessions, MemoryStore } from 'sessionkit';
import { getSession, sessionMiddleware } from 'sessionkit/express';

declare module 'sessionkit' {
  interface SessionTypes {
    data: { count: number; user: string };
  }
}

const app = express();
app.use(sessionMiddleware(createSessions({ store: new MemoryStore() })));
app.get('/', (req, res) => {
  const count: number = req.session.get('count', 0);
  req.session.set('count', count + 1);
  // @ts-expect-error count is a number
  req.session.set('count', 'two');
  // @ts-expect-error not a key of the declared data
  req.session.get('colour');
  const user: string | undefined = getSession(req).get('user');
  res.send(user ?? String(count));
});
export { app };
