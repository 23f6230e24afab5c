import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { H3, serve } from 'h3';
import { routeResponse } from '../../test/support/web-routes.js';
import { ConfigError } from '../core/errors.js';
import { makeSessions } from '../core/sessions.js';
import { MemoryStore } from '../stores/memory.js';
import { describeAdapter } from '../testing/adapter-suite.js';
import { sessionMiddleware, useSession } from './h3.js';

describeAdapter('h3 2 (sessionkit/h3, on its own serve)', {
  async start(sessions, routes) {
    const app = new H3();
    app.use(sessionMiddleware(sessions));
    app.all('/**', async (event) => {
      const session = await useSession(event, sessions);
      return routeResponse(await routes({ session, method: event.req.method, path: event.url.pathname, query: event.url.searchParams }));
    });
    const server = serve(app, { port: 0, hostname: '127.0.0.1', silent: true, manual: false });
    await server.ready();
    return { url: server.url!.replace(/\/$/, ''), close: () => server.close(true) };
  },
});

describe('sessionkit/h3', () => {
  const sessions = () => makeSessions<{ count: number }>({ store: new MemoryStore() }, () => new MemoryStore());

  it('concurrent useSession calls load once and share the session', async () => {
    const s = sessions();
    const app = new H3();
    app.use(sessionMiddleware(s));
    app.get('/', async (event) => {
      const [a, b] = await Promise.all([useSession(event, s), useSession(event, s)]);
      a.set('count', 1);
      return String(a === b);
    });
    const res = await app.fetch(new Request('http://x/'));
    assert.equal(await res.text(), 'true');
    assert.match(res.headers.getSetCookie()[0] ?? '', /^sessionid=/);
  });

  it('useSession without the middleware names the fix', async () => {
    const s = sessions();
    const app = new H3();
    let caught: unknown;
    app.get('/', (event) => {
      try {
        // biome-ignore lint/correctness/useHookAtTopLevel: h3's useSession is a function of the event, not a React hook
        useSession(event, s);
      } catch (err) {
        caught = err;
      }
      return 'ok';
    });
    await app.fetch(new Request('http://x/'));
    assert.ok(caught instanceof ConfigError && /app\.use\(sessionMiddleware\(sessions\)\)/.test(caught.message));
  });
});
