// Compiles in a fresh project with only @types/node, skipLibCheck off: the core, the node and
// Hono adapters, with the session data declared once through SessionTypes.
import { Hono } from 'hono';
import { CookieStore, createSessions, MemoryStore, type Session, type SessionStore } from 'sessionkit';
import { sessionMiddleware, type SessionEnv } from 'sessionkit/hono';
import { withSession } from 'sessionkit/node';

type Data = { count: number; user: string; cart: string[] };
declare module 'sessionkit' {
  interface SessionTypes {
    data: Data;
  }
}

const sessions = createSessions({ store: new MemoryStore() });
const store: SessionStore = new MemoryStore();
void store;
void new CookieStore({ secret: 'a long enough secret for the type test only' });

export async function handle(cookie: string): Promise<string | null> {
  const session = await sessions.load(cookie);
  const count: number = session.get('count', 0);
  session.set('count', count + 1);
  // @ts-expect-error count is a number
  session.set('count', 'one');
  // @ts-expect-error not a key of Data
  session.get('colour');
  return sessions.commit(session);
}

const app = new Hono<SessionEnv>();
app.use(sessionMiddleware(sessions));
app.get('/', (c) => {
  const session: Session<Data> = c.get('session');
  const user: string | undefined = session.get('user');
  return c.text(user ?? 'anonymous');
});

export const listener = withSession(sessions, (_req, res, session) => {
  const cart: string[] = session.get('cart', []);
  res.end(cart.join(','));
});
