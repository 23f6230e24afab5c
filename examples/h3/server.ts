// An h3 2 app (as in Nitro and Nuxt) with sessionkit/h3. Run: node --import tsx server.ts (PORT, HOST, SESSION_STORE).
import { H3, redirect, serve } from 'h3';
import { createSessions, createStore } from 'sessionkit';
import { sessionMiddleware, useSession } from 'sessionkit/h3';

const sessions = createSessions<{ count: number; notice: string }>({
  store: createStore(process.env.SESSION_STORE ?? 'sqlite:./sessions.sqlite3'),
});

const app = new H3();
app.use(sessionMiddleware(sessions));
app.post('/count', async (event) => {
  const session = await useSession(event, sessions);
  const count = session.get('count', 0) + 1;
  session.set('count', count);
  session.flash('notice', `Counted to ${count}.`);
  return redirect('/', 303);
});
app.get('/', async (event) => {
  const session = await useSession(event, sessions);
  const notice = session.get('notice');
  return `${notice ? `${notice}\n` : ''}count=${session.get('count', 0)}\n`;
});

serve(app, { port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? '127.0.0.1' });
