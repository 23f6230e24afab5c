// A Koa app with sessionkit/koa. Run: node --import tsx server.ts (PORT, HOST, SESSION_STORE).
import Koa, { type DefaultState } from 'koa';
import { createSessions, createStore } from 'sessionkit';
import { type SessionContext, sessionMiddleware } from 'sessionkit/koa';

type Data = { count: number; notice: string };
const sessions = createSessions<Data>({ store: createStore(process.env.SESSION_STORE ?? 'sqlite:./sessions.sqlite3') });

const app = new Koa<DefaultState, SessionContext<Data>>();
app.use(sessionMiddleware(sessions));
app.use((ctx) => {
  if (ctx.method === 'POST' && ctx.path === '/count') {
    const count = ctx.session.get('count', 0) + 1;
    ctx.session.set('count', count);
    ctx.session.flash('notice', `Counted to ${count}.`);
    ctx.status = 303;
    ctx.redirect('/');
    return;
  }
  if (ctx.path === '/') {
    const notice = ctx.session.get('notice');
    ctx.body = `${notice ? `${notice}\n` : ''}count=${ctx.session.get('count', 0)}\n`;
  }
});

app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
