// With @types/express-session installed and imported too: it compiles; req.session keeps
// express-session's type (only one package can declare it), getSession(req) gives sessionkit's.
import express from 'express';
import expressSession from 'express-session';
import { createSessions, MemoryStore } from 'sessionkit';
import { getSession, sessionMiddleware } from 'sessionkit/express';

const app = express();
app.use(expressSession({ secret: 'old site secret', resave: false, saveUninitialized: false }));
app.use(sessionMiddleware(createSessions({ store: new MemoryStore() })));
app.get('/', (req, res) => {
  req.session.regenerate(() => {});
  const views: unknown = getSession(req).get('views');
  res.send(`${req.sessionID} ${String(views)}`);
});
export { app };
