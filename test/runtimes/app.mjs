// One app for every runtime test: a fetch handler (Hono + sessionkit/hono) over each store given,
// at /<store>/count (adds one to the session's count and answers it), and /edge/count doing the same
// with the framework-free load/commit. The runtime tests serve it over HTTP with the runtime's own server.
import { Hono } from 'hono';
import { CookieStore, MemoryStore, createSessions } from 'sessionkit';
import { sessionMiddleware } from 'sessionkit/hono';

export function makeApp(stores = {}) {
  const all = { memory: new MemoryStore(), cookie: new CookieStore({ secret: 'runtime-test-secret-0123456789-abcdefghij' }), ...stores };
  const app = new Hono();
  for (const [name, store] of Object.entries(all)) {
    const sub = new Hono();
    sub.use(sessionMiddleware(createSessions({ store })));
    sub.get('/count', (c) => {
      const session = c.get('session');
      const count = session.get('count', 0) + 1;
      session.set('count', count);
      return c.text(String(count));
    });
    app.route(`/${name}`, sub);
  }
  // Next.js-style edge code: the framework-free API on the fetch Request, no middleware.
  const edge = createSessions({ store: new CookieStore({ secret: 'runtime-test-secret-0123456789-abcdefghij' }) });
  app.get('/edge/count', async (c) => {
    const session = await edge.load(c.req.raw);
    const count = session.get('count', 0) + 1;
    session.set('count', count);
    const setCookie = await edge.commit(session);
    return new Response(String(count), { headers: setCookie ? { 'set-cookie': setCookie } : {} });
  });
  // Device-bound sessions: registration and refresh proofs verified with the runtime's own Web Crypto.
  const bound = new Hono();
  bound.use(sessionMiddleware(createSessions({ store: new MemoryStore(), deviceBound: { path: '/bound/dbsc' } })));
  bound.get('/login', async (c) => {
    await c.get('session').login('alice');
    return c.text('signed in');
  });
  bound.get('/me', (c) => c.text(`${c.get('session').userId ?? 'anonymous'} ${c.get('session').deviceBound}`));
  app.route('/bound', bound);
  app.get('/', (c) => c.text([...Object.keys(all), 'edge'].join(',')));
  return app;
}

let app;
export default { fetch: (request, env, ctx) => (app ??= makeApp()).fetch(request, env, ctx) };
