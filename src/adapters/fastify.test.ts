import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { describeAdapter } from '../testing/adapter-suite.js';
import { ConfigError } from '../core/errors.js';
import { makeSessions } from '../core/sessions.js';
import { MemoryStore } from '../stores/memory.js';
import { sessionPlugin } from './fastify.js';

describeAdapter('Fastify 5 (sessionkit/fastify)', {
  async start(sessions, routes) {
    const app = Fastify();
    await app.register(sessionPlugin, { sessions });
    app.all('/*', async (request, reply) => {
      const url = new URL(request.url, 'http://localhost');
      const r = await routes({ session: request.session, method: request.method, path: url.pathname, query: url.searchParams });
      reply.code(r.status);
      for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
      if (r.cookies) reply.header('Set-Cookie', r.cookies);
      reply.type('text/plain');
      if (r.stream) {
        const [a, b] = r.body.split('/');
        async function* chunks() {
          yield `${a}/`;
          await new Promise((resolve) => setTimeout(resolve, 5));
          yield b!;
        }
        return reply.send(Readable.from(chunks()));
      }
      return reply.send(r.body);
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
});

describe('sessionkit/fastify registration', () => {
  it('a missing or wrong sessions option fails at start with ConfigError naming it', async () => {
    for (const options of [{}, { sessions: {} }, { sessions: null }]) {
      const app = Fastify();
      app.register(sessionPlugin as never, options as never);
      await assert.rejects(
        async () => {
          await app.ready();
        },
        (err: unknown) => err instanceof ConfigError && err.option === 'sessions',
      );
      await app.close().catch(() => {});
    }
  });

  it('hooks apply app-wide, also to routes registered in other plugins', async () => {
    const sessions = makeSessions({ store: new MemoryStore() }, () => new MemoryStore());
    const app = Fastify();
    await app.register(sessionPlugin, { sessions });
    await app.register(async (child) => {
      child.get('/child', async (request) => {
        request.session.set('n', 1);
        return 'ok';
      });
    });
    const res = await app.inject({ method: 'GET', url: '/child' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['set-cookie']), /^sessionid=[a-z0-9]{32};/);
    await app.close();
  });
});
