// The CSRF middleware of every adapter, each through a real server of its framework.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { makeSessions, type Sessions } from '../core/sessions.js';
import type { Session } from '../core/session.js';
import { MemoryStore } from '../stores/memory.js';
import * as expressAdapter from './express.js';
import * as fastifyAdapter from './fastify.js';
import * as honoAdapter from './hono.js';
import * as nodeAdapter from './node.js';

interface Server {
  url: string;
  close(): Promise<void>;
}

/** GET /form stores a token and answers it; POST /submit answers "ok"; anything else "hi". */
function answer(session: Session<any>, method: string, path: string): string {
  if (method === 'GET' && path === '/form') return session.csrfToken();
  return method === 'POST' ? 'ok' : 'hi';
}

const listen = async (server: http.Server): Promise<Server> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

const adapters: Record<string, (sessions: Sessions<any>) => Promise<Server>> = {
  async express(sessions) {
    const app = express();
    app.use(expressAdapter.sessionMiddleware(sessions));
    app.use(express.urlencoded({ extended: false }));
    app.use(expressAdapter.csrfProtection({ trustedOrigins: ['https://front.example'] }));
    app.use((req, res) => {
      res.type('text/plain').send(answer(req.session, req.method, req.path));
    });
    return listen(http.createServer(app));
  },
  async fastify(sessions) {
    const app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    await app.register(fastifyAdapter.sessionPlugin, { sessions });
    app.addHook('preHandler', fastifyAdapter.csrfProtection({ trustedOrigins: ['https://front.example'] }));
    app.all('/*', async (request, reply) => {
      reply.type('text/plain');
      return answer(request.session, request.method, new URL(request.url, 'http://x').pathname);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  },
  async hono(sessions) {
    const app = new Hono<honoAdapter.SessionEnv>();
    app.use(honoAdapter.sessionMiddleware(sessions));
    app.use(honoAdapter.csrfProtection({ trustedOrigins: ['https://front.example'] }));
    app.all('*', async (c) => {
      if (c.req.method === 'POST') await c.req.parseBody(); // the handler can still read the form
      return c.text(answer(c.get('session'), c.req.method, new URL(c.req.url).pathname));
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as http.Server;
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  async node(sessions) {
    const handler = nodeAdapter.csrfProtection<any>(
      (req, res, session) => {
        const body = (req as { body?: Record<string, string> }).body;
        res.setHeader('Content-Type', 'text/plain');
        res.end(req.method === 'POST' && body ? `ok ${Object.keys(body).join(',')}` : answer(session, req.method!, req.url!));
      },
      { trustedOrigins: ['https://front.example'] },
    );
    return listen(http.createServer(nodeAdapter.withSession(sessions, handler)));
  },
};

for (const [name, start] of Object.entries(adapters)) {
  describe(`csrfProtection (sessionkit/${name})`, () => {
    let server: Server;
    const sessions = makeSessions<any>({ store: new MemoryStore() }, () => {
      throw new Error('unreachable');
    });
    before(async () => {
      server = await start(sessions);
    });
    after(() => server.close());

    const post = (options: { cookie?: string; origin?: string; referer?: string; form?: Record<string, string>; token?: string }) => {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (options.cookie) headers.cookie = options.cookie;
      if (options.origin) headers.origin = options.origin;
      if (options.referer) headers.referer = options.referer;
      if (options.token) headers['x-csrf-token'] = options.token;
      return fetch(`${server.url}/submit`, { method: 'POST', headers, body: new URLSearchParams(options.form ?? { item: 'mug' }) });
    };
    /** A visitor whose session holds a token: its cookie and the token. */
    const withToken = async () => {
      const res = await fetch(`${server.url}/form`);
      const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
      return { cookie, token: await res.text() };
    };

    it('a visitor without a session: a same-origin POST passes and stores nothing; another origin is 403', async () => {
      const own = await post({ origin: server.url });
      assert.equal(own.status, 200);
      assert.match(await own.text(), /^ok/);
      assert.deepEqual(own.headers.getSetCookie(), []);
      assert.equal((await post({})).status, 200, 'no Origin nor Referer (a script): passes');
      const foreign = await post({ origin: 'https://evil.example' });
      assert.equal(foreign.status, 403);
      assert.match(await foreign.text(), /^Forbidden: /);
      assert.equal((await post({ origin: 'null' })).status, 403);
      assert.equal((await post({ referer: 'https://evil.example/page' })).status, 403);
      assert.equal((await post({ origin: 'https://front.example' })).status, 200, 'a trusted origin');
    });

    it('a session holding a token: POST needs it, in the form field or the header', async () => {
      const { cookie, token } = await withToken();
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal((await post({ cookie, origin: server.url })).status, 403, 'no token');
      assert.equal((await post({ cookie, form: { csrf_token: 'x'.repeat(43) } })).status, 403, 'a wrong token');
      const field = await post({ cookie, origin: server.url, form: { item: 'mug', csrf_token: token } });
      assert.equal(field.status, 200);
      if (name === 'node') assert.equal(await field.text(), 'ok item,csrf_token', 'the form is handed on as req.body');
      assert.equal((await post({ cookie, token })).status, 200, 'the X-CSRF-Token header');
      assert.equal((await post({ cookie, token, origin: 'https://evil.example' })).status, 403, 'the right token from another origin');
      assert.equal((await fetch(`${server.url}/other`, { headers: { cookie } })).status, 200, 'GET is not checked');
      const del = await fetch(`${server.url}/submit`, { method: 'DELETE', headers: { cookie } });
      assert.equal(del.status, 403, 'DELETE is checked');
    });
  });
}
