// A fetch-style app with sessionkit/web. The same `fetch` runs on Bun.serve({ fetch }),
// Deno.serve(fetch) or as a Cloudflare Worker's `export default { fetch }`; on Node it is served
// by @hono/node-server. Run: node --import tsx server.ts (PORT, HOST, SESSION_STORE).
import { serve } from '@hono/node-server';
import { createSessions, createStore } from 'sessionkit';
import { withSession } from 'sessionkit/web';

const sessions = createSessions<{ count: number; notice: string }>({
  store: createStore(process.env.SESSION_STORE ?? 'sqlite:./sessions.sqlite3'),
});

const fetch = withSession(sessions, async (request, session) => {
  const url = new URL(request.url);
  if (request.method === 'POST' && url.pathname === '/count') {
    const count = session.get('count', 0) + 1;
    session.set('count', count);
    session.flash('notice', `Counted to ${count}.`);
    return Response.redirect(new URL('/', url), 303); // immutable headers: withSession copies it
  }
  if (url.pathname === '/') {
    const notice = session.get('notice');
    return new Response(`${notice ? `${notice}\n` : ''}count=${session.get('count', 0)}\n`);
  }
  return new Response('not found\n', { status: 404 });
});

serve({ fetch, port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST ?? '127.0.0.1' });
