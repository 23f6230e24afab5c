// The CSRF protection of every adapter, each through a real server of its framework: one decision
// (core/csrf.ts), so one table of cases. React Router, SvelteKit and Next.js run it from their own
// test files (test/react-router.test.ts, test/sveltekit.test.ts, test/next.test.ts).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { H3, serve as h3Serve } from 'h3';
import { Hono } from 'hono';
import Koa from 'koa';
import { makeSessions, type Sessions } from '../core/sessions.js';
import type { Session } from '../core/session.js';
import { MemoryStore } from '../stores/memory.js';
import * as expressAdapter from './express.js';
import * as fastifyAdapter from './fastify.js';
import * as h3Adapter from './h3.js';
import * as honoAdapter from './hono.js';
import * as koaAdapter from './koa.js';
import * as nodeAdapter from './node.js';
import * as webAdapter from './web.js';
import { listen, type Running } from '../../test/support/listen.js';

type Server = Running;

/** How a server is set up: the second server of each adapter has its own refusal page and trusts a proxy. */
interface Setup {
  trustedOrigins: string[];
  trustProxy?: boolean;
  custom?: boolean;
}

/** GET /form answers a new token (stored in the session); POST answers "ok"; anything else "hi". */
function answer(session: Session<any>, method: string, path: string): string {
  if (method === 'GET' && path === '/form') return session.csrfToken();
  return method === 'GET' ? 'hi' : 'ok';
}

/** The site's own refusal page, through `onRefused`. */
const PAGE = (reason: string) => `<h1>Refused (${reason})</h1>`;

const onHono = async (fetch: (request: Request) => Response | Promise<Response>) => {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }) as http.Server;
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  return listen(server);
};

export const csrfServers: Record<string, (sessions: Sessions<any>, setup: Setup) => Promise<Server>> = {
  async express(sessions, setup) {
    const app = express();
    app.use(expressAdapter.sessionMiddleware(sessions));
    app.use(
      expressAdapter.csrfProtection({
        ...setup,
        onRefused: setup.custom ? (_req, res, refusal) => res.status(refusal.status).type('html').send(PAGE(refusal.reason)) : undefined,
      }),
    );
    app.use(express.urlencoded({ extended: false }));
    app.use((req, res) => {
      res.type('text/plain').send(answer(req.session, req.method, req.path));
    });
    return listen(http.createServer(app));
  },
  async fastify(sessions, setup) {
    const app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    await app.register(fastifyAdapter.sessionPlugin, { sessions });
    app.addHook(
      'preHandler',
      fastifyAdapter.csrfProtection({
        ...setup,
        onRefused: setup.custom
          ? (_request, reply, refusal) => reply.code(refusal.status).type('text/html').send(PAGE(refusal.reason))
          : undefined,
      }),
    );
    app.all('/*', async (request, reply) => {
      reply.type('text/plain');
      return answer(request.session, request.method, new URL(request.url, 'http://x').pathname);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  },
  async hono(sessions, setup) {
    const app = new Hono<honoAdapter.SessionEnv>();
    app.use(honoAdapter.sessionMiddleware(sessions));
    app.use(
      honoAdapter.csrfProtection({
        ...setup,
        onRefused: setup.custom ? (c, refusal) => c.html(PAGE(refusal.reason), refusal.status) : undefined,
      }),
    );
    app.all('*', async (c) => {
      if (c.req.method === 'POST' && c.req.header('x-read-body')) await c.req.parseBody(); // the handler can still read the form
      return c.text(answer(c.get('session'), c.req.method, new URL(c.req.url).pathname));
    });
    return onHono(app.fetch);
  },
  async node(sessions, setup) {
    const handler = nodeAdapter.csrfProtection<any>(
      (req, res, session) => {
        const body = (req as { body?: Record<string, string> }).body;
        res.setHeader('Content-Type', 'text/plain');
        res.end(req.method === 'POST' && body ? `ok ${Object.keys(body).join(',')}` : answer(session, req.method!, req.url!));
      },
      {
        ...setup,
        onRefused: setup.custom
          ? (_req, res, _session, refusal) => {
              res.writeHead(refusal.status, { 'Content-Type': 'text/html' });
              res.end(PAGE(refusal.reason));
            }
          : undefined,
      },
    );
    return listen(http.createServer(nodeAdapter.withSession(sessions, handler)));
  },
  async web(sessions, setup) {
    const handler = webAdapter.csrfProtection<any>(
      async (request, session) => {
        if (request.headers.get('x-read-body')) await request.formData(); // the handler can still read the form
        return new Response(answer(session, request.method, new URL(request.url).pathname));
      },
      {
        ...setup,
        onRefused: setup.custom
          ? (_request, _session, refusal) =>
              new Response(PAGE(refusal.reason), { status: refusal.status, headers: { 'Content-Type': 'text/html' } })
          : undefined,
      },
    );
    return onHono(webAdapter.withSession(sessions, handler));
  },
  async koa(sessions, setup) {
    const app = new Koa<Koa.DefaultState, koaAdapter.SessionContext>();
    app.silent = true;
    app.use(koaAdapter.sessionMiddleware(sessions));
    app.use(
      koaAdapter.csrfProtection({
        ...setup,
        onRefused: setup.custom
          ? (ctx, refusal) => {
              ctx.status = refusal.status;
              ctx.type = 'html';
              ctx.body = PAGE(refusal.reason);
            }
          : undefined,
      }),
    );
    app.use(async (ctx) => {
      ctx.type = 'text/plain';
      ctx.body = answer(ctx.session, ctx.method, ctx.path);
    });
    return listen(http.createServer(app.callback()));
  },
  async h3(sessions, setup) {
    const app = new H3();
    app.use(h3Adapter.sessionMiddleware(sessions));
    app.use(
      h3Adapter.csrfProtection({
        ...setup,
        onRefused: setup.custom
          ? (_event, refusal) => new Response(PAGE(refusal.reason), { status: refusal.status, headers: { 'Content-Type': 'text/html' } })
          : undefined,
      }),
    );
    app.all('/**', async (event) => {
      const session = await h3Adapter.useSession(event, sessions);
      return new Response(answer(session, event.req.method, event.url.pathname));
    });
    const server = h3Serve(app, { port: 0, hostname: '127.0.0.1', silent: true, manual: false });
    await server.ready();
    return { url: server.url!.replace(/\/$/, ''), close: () => server.close(true) };
  },
};

/** A POST (or another method) with the given headers and an urlencoded body. */
export interface Post {
  cookie?: string;
  site?: string;
  origin?: string;
  referer?: string;
  form?: Record<string, string>;
  token?: string;
  method?: string;
  headers?: Record<string, string>;
}

/** Sends a request whose body is `size` bytes of a form that is still being sent when the answer comes (never finished). */
export function stalledPost(
  url: string,
  headers: Record<string, string>,
  size: number,
): Promise<{ status: number; body: string } | 'closed'> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode!, body });
        req.destroy();
      });
      res.on('error', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', () => resolve('closed'));
    req.on('close', () => resolve('closed'));
    req.write('item=mug&note=');
    const chunk = 'a'.repeat(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      // and then nothing more: the body never ends
    };
    pump();
  });
}

/** The table every adapter runs (through a real server of its framework). */
export function describeCsrf(
  name: string,
  start: (sessions: Sessions<any>, setup: Setup) => Promise<Server>,
  quirks: { parsesBodyFirst?: boolean } = {},
) {
  describe(`csrfProtection (sessionkit/${name})`, () => {
    let server: Server;
    let custom: Server;
    const sessions = makeSessions<any>({ store: new MemoryStore() }, () => {
      throw new Error('unreachable');
    });
    before(async () => {
      server = await start(sessions, { trustedOrigins: ['https://front.example'] });
      custom = await start(sessions, { trustedOrigins: ['https://front.example'], trustProxy: true, custom: true });
    });
    after(async () => {
      await server.close();
      await custom.close();
    });

    const post = (options: Post, on: Server = server) => {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...options.headers };
      if (options.cookie) headers.cookie = options.cookie;
      if (options.site) headers['sec-fetch-site'] = options.site;
      if (options.origin) headers.origin = options.origin;
      if (options.referer) headers.referer = options.referer;
      if (options.token) headers['x-csrf-token'] = options.token;
      return fetch(`${on.url}/submit`, {
        method: options.method ?? 'POST',
        headers,
        body: new URLSearchParams(options.form ?? { item: 'mug' }),
        redirect: 'manual',
      });
    };
    /** A visitor whose session holds a CSRF secret: its cookie and a token. */
    const withToken = async () => {
      const res = await fetch(`${server.url}/form`);
      const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
      return { cookie, token: await res.text() };
    };

    it('Sec-Fetch-Site decides first: same-origin and none pass without a token, same-site and cross-site are 403', async () => {
      const { cookie } = await withToken();
      for (const site of ['same-origin', 'none']) {
        const res = await post({ cookie, site });
        assert.equal(res.status, 200, site);
        assert.match(await res.text(), /^ok/);
      }
      for (const site of ['same-site', 'cross-site']) {
        const res = await post({ cookie, site, origin: server.url });
        assert.equal(res.status, 403, site);
        assert.match(await res.text(), /^Forbidden: /);
      }
      const { token } = await withToken();
      assert.equal((await post({ cookie, site: 'cross-site', token })).status, 403, 'a token does not make a cross-site request pass');
      assert.equal((await post({ site: 'cross-site', origin: 'https://front.example' })).status, 200, 'a trusted origin');
      assert.equal((await post({ site: 'cross-site', origin: 'https://evil.example' })).status, 403);
    });

    it('without Sec-Fetch-Site, Origin must be the request’s own (scheme, host and port) or trusted; null never passes', async () => {
      const { cookie, token } = await withToken();
      const own = await post({ cookie, origin: server.url });
      assert.equal(own.status, 200, 'its own origin, no token needed');
      const port = new URL(server.url).port;
      for (const origin of [
        `https://127.0.0.1:${port}`,
        `ftp://127.0.0.1:${port}`,
        'http://127.0.0.1',
        `http://127.0.0.1:${Number(port) + 1}`,
        'http://evil.example',
        'null',
      ]) {
        assert.equal((await post({ cookie, origin, token })).status, 403, origin);
      }
      assert.equal((await post({ origin: 'https://front.example' })).status, 200, 'a trusted origin');
      assert.equal((await post({ origin: 'https://front.example:8443' })).status, 403, 'another port of a trusted host');
      assert.equal((await post({ referer: 'https://evil.example/page' })).status, 200, 'Referer is not used (no session secret)');
      assert.equal((await post({ cookie, referer: `${server.url}/form` })).status, 403, 'Referer is not used (the token decides)');
    });

    it('with neither header, a session holding a secret needs a token: field or header, masked anew, of that session only', async () => {
      assert.equal((await post({})).status, 200, 'no session secret, no headers (a script): passes');
      const { cookie, token } = await withToken();
      const second = await (await fetch(`${server.url}/form`, { headers: { cookie } })).text();
      assert.notEqual(second, token, 'a new mask on every call');
      assert.match(token, /^[A-Za-z0-9_-]{86}$/);
      assert.equal((await post({ cookie })).status, 403, 'no token');
      assert.equal((await post({ cookie, form: { csrf_token: 'x'.repeat(86) } })).status, 403, 'a wrong token');
      const other = await withToken();
      assert.equal((await post({ cookie, form: { csrf_token: other.token } })).status, 403, "another session's token");
      for (const t of [token, second]) {
        const field = await post({ cookie, form: { item: 'mug', csrf_token: t } });
        assert.equal(field.status, 200);
        if (name === 'node') assert.equal(await field.text(), 'ok item,csrf_token', 'the form is handed on as req.body');
      }
      assert.equal((await post({ cookie, token })).status, 200, 'the X-CSRF-Token header');
      assert.equal((await fetch(`${server.url}/other`, { headers: { cookie } })).status, 200, 'GET is not checked');
      for (const method of ['PUT', 'PATCH', 'DELETE']) assert.equal((await post({ cookie, method })).status, 403, method);
      if (name === 'hono' || name === 'web') {
        const read = await post({ cookie, form: { item: 'mug', csrf_token: token }, headers: { 'x-read-body': '1' } });
        assert.equal(read.status, 200, 'the handler reads the form after the check');
      }
    });

    it('onRefused answers with the app’s own page; behind a trusted proxy the origin is the forwarded one', async () => {
      const { cookie } = await withToken();
      const refused = await post({ cookie, site: 'cross-site' }, custom);
      assert.equal(refused.status, 403);
      assert.equal(await refused.text(), PAGE('cross-site'));
      const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' };
      assert.equal((await post({ origin: 'https://shop.example', headers: proxied }, custom)).status, 200, 'trustProxy: true');
      assert.equal(
        (await post({ origin: 'https://shop.example', headers: proxied })).status,
        403,
        'no trustProxy: the header is not believed',
      );
      assert.equal((await post({ origin: 'http://shop.example', headers: proxied }, custom)).status, 403, 'the scheme counts');
      const noToken = await post({ cookie }, custom);
      assert.equal(noToken.status, 403);
      assert.equal(await noToken.text(), PAGE('token'));
    });

    it("without its own trustProxy, csrfProtection follows createSessions' trustProxy", async () => {
      const behind = makeSessions<any>({ store: new MemoryStore(), trustProxy: 1 }, () => {
        throw new Error('unreachable');
      });
      const proxied = await start(behind, { trustedOrigins: [] });
      try {
        const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' };
        assert.equal((await post({ origin: 'https://shop.example', headers }, proxied)).status, 200);
        assert.equal((await post({ origin: proxied.url, headers }, proxied)).status, 403, 'the address behind the proxy is not the origin');
      } finally {
        await proxied.close();
      }
    });

    it('reads no body when the headers decide, and never more than 1 MiB of one', async () => {
      const { cookie } = await withToken();
      const form = { 'content-type': 'application/x-www-form-urlencoded', cookie };
      if (!quirks.parsesBodyFirst) {
        const decided = await stalledPost(`${server.url}/submit`, { ...form, 'sec-fetch-site': 'cross-site' }, 256 * 1024);
        assert.notEqual(decided, 'closed');
        assert.equal((decided as { status: number }).status, 403, 'answered while the body is still coming');
      }
      const big = await stalledPost(`${server.url}/submit`, form, 3 * 1024 * 1024);
      assert.equal(big !== 'closed' && big.status, 413, 'a chunked form over 1 MiB: 413 once 1 MiB is read');
      const declared = await stalledPost(`${server.url}/submit`, { ...form, 'content-length': String(50 * 1024 * 1024) }, 0);
      assert.equal(declared !== 'closed' && declared.status, 413, 'a declared length over 1 MiB: 413 before reading');
    });
  });
}

for (const [name, start] of Object.entries(csrfServers)) describeCsrf(name, start, { parsesBodyFirst: name === 'fastify' });
