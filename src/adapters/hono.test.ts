import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { describeAdapter } from '../testing/adapter-suite.js';
import { makeSessions } from '../core/sessions.js';
import { MemoryStore } from '../stores/memory.js';
import { sessionMiddleware, type SessionEnv } from './hono.js';

describeAdapter('Hono 4 (sessionkit/hono, on @hono/node-server)', {
  async start(sessions, routes) {
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.all('*', async (c) => {
      const url = new URL(c.req.url);
      const r = await routes({ session: c.get('session'), method: c.req.method, path: url.pathname, query: url.searchParams });
      c.status(r.status as 200);
      for (const [k, v] of Object.entries(r.headers ?? {})) c.header(k, v);
      for (const cookie of r.cookies ?? []) c.header('Set-Cookie', cookie, { append: true });
      c.header('Content-Type', 'text/plain');
      if (r.stream) {
        const [a, b] = r.body.split('/');
        return stream(c, async (s) => {
          await s.write(`${a}/`);
          await s.sleep(5);
          await s.write(b!);
        });
      }
      return r.status === 303 ? c.body(null) : c.body(r.body);
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});

describe('sessionkit/hono on web-standard Request/Response', () => {
  const sessions = () => makeSessions({ store: new MemoryStore() }, () => new MemoryStore());

  it('works through app.fetch alone, with no node server (any runtime)', async () => {
    const app = new Hono<SessionEnv<{ count: number }>>();
    app.use(sessionMiddleware(sessions()));
    app.get('/incr', (c) => {
      const session = c.get('session');
      const count = session.get('count', 0) + 1;
      session.set('count', count);
      return c.text(`count=${count}`);
    });
    const first = await app.fetch(new Request('http://x/incr'));
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    const second = await app.fetch(new Request('http://x/incr', { headers: { cookie } }));
    assert.equal(await second.text(), 'count=2');
  });

  it('a response with immutable headers (Response.redirect) still carries the cookie', async () => {
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions()));
    app.get('/go', (c) => {
      c.get('session').set('flash', 'hi');
      return Response.redirect('http://x/there', 302);
    });
    const res = await app.fetch(new Request('http://x/go'));
    assert.equal(res.status, 302);
    assert.match(res.headers.getSetCookie()[0] ?? '', /^sessionid=[a-z0-9]{32};/);
    assert.equal(res.headers.get('location'), 'http://x/there');
  });
});
