import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { routeResponse } from '../../test/support/web-routes.js';
import { makeSessions } from '../core/sessions.js';
import { MemoryStore } from '../stores/memory.js';
import { describeAdapter } from '../testing/adapter-suite.js';
import { withSession } from './web.js';

describeAdapter('fetch-style handler (sessionkit/web, on @hono/node-server)', {
  async start(sessions, routes) {
    const fetch = withSession(sessions, async (request, session) => {
      const url = new URL(request.url);
      return routeResponse(await routes({ session, method: request.method, path: url.pathname, query: url.searchParams }));
    });
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});

describe('sessionkit/web', () => {
  const sessions = () => makeSessions<{ count: number; note: string }>({ store: new MemoryStore() }, () => new MemoryStore());

  it('a Response.redirect() (immutable headers) is copied and carries the cookie', async () => {
    const handler = withSession(sessions(), (_request, session) => {
      session.flash('note', 'moved');
      return Response.redirect('http://x/there', 302);
    });
    const res = await handler(new Request('http://x/go'));
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), 'http://x/there');
    assert.match(res.headers.getSetCookie()[0] ?? '', /^sessionid=[a-z0-9]{32};/);
    assert.equal(res.headers.get('vary'), 'Cookie');
  });

  it('what the runtime passes after the request reaches the handler (a Worker env, Bun server)', async () => {
    const env = { GREETING: 'hi' };
    const handler = withSession(sessions(), (_request, session, e: typeof env) => new Response(`${e.GREETING} ${session.get('count', 0)}`));
    assert.equal(await (await handler(new Request('http://x/'), env)).text(), 'hi 0');
  });

  it('a flash set before a redirect is shown once after it', async () => {
    const s = sessions();
    const handler = withSession(s, (request, session) => {
      if (new URL(request.url).pathname === '/save') {
        session.flash('note', 'Saved.');
        return Response.redirect('http://x/show', 303);
      }
      return new Response(session.get('note') ?? '(none)');
    });
    const first = await handler(new Request('http://x/save'));
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    assert.equal(await (await handler(new Request('http://x/show', { headers: { cookie } }))).text(), 'Saved.');
    assert.equal(await (await handler(new Request('http://x/show', { headers: { cookie } }))).text(), '(none)');
  });
});
