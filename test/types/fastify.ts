// With fastify: the session data declared once reaches request.session.
import Fastify from 'fastify';
import { createSessions, MemoryStore } from 'sessionkit';
import { sessionPlugin } from 'sessionkit/fastify';

declare module 'sessionkit' {
  interface SessionTypes {
    data: { count: number };
  }
}

const app = Fastify();
app.register(sessionPlugin, { sessions: createSessions({ store: new MemoryStore() }) });
app.get('/', async (request) => {
  const count: number = request.session.get('count', 0);
  // @ts-expect-error count is a number
  request.session.set('count', 'three');
  return String(count);
});
export { app };
