// Device Bound Session Credentials end to end: a software client that follows the W3C draft (Web
// Crypto keys, hand-built dbsc+jwt proofs) against real servers on every adapter, and on the node
// adapter against every store (MemoryStore, SqliteStore, a real Redis, a real PostgreSQL), with the
// injected clock for the bound cookie's expiry.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serve as serveFetch } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { H3, serve as serveH3 } from 'h3';
import { Hono } from 'hono';
import Koa from 'koa';
import pg from 'pg';
import { createClient } from 'redis';
import { RouterContextProvider } from 'react-router';
import * as expressAdapter from '../src/adapters/express.js';
import { sessionPlugin } from '../src/adapters/fastify.js';
import * as h3Adapter from '../src/adapters/h3.js';
import * as honoAdapter from '../src/adapters/hono.js';
import * as koaAdapter from '../src/adapters/koa.js';
import { deviceBoundResponse } from '../src/adapters/next.js';
import { withSession as nodeWithSession } from '../src/adapters/node.js';
import * as rrAdapter from '../src/adapters/react-router.js';
import { sessionHandle } from '../src/adapters/sveltekit.js';
import { withSession as webWithSession } from '../src/adapters/web.js';
import type { SessionsOptions } from '../src/core/options.js';
import type { Session } from '../src/core/session.js';
import { makeSessions, type Sessions } from '../src/core/sessions.js';
import type { AnyStore } from '../src/core/store.js';
import { CachedStore } from '../src/stores/cached.js';
import { MemoryStore } from '../src/stores/memory.js';
import { PostgresStore } from '../src/stores/postgres.js';
import { RedisStore } from '../src/stores/redis.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { DbscClient, makeKey, parseChallenge, proof } from './support/dbsc-client.js';
import { startPostgres, type RunningPostgres } from './support/postgres.js';
import { startRedis, stopAll } from './support/redis.js';
import { listen, type Running } from './support/listen.js';

type Data = { count: number };

/** The app every adapter serves: sign in, show who and whether bound, count, sign out. */
async function route(session: Session<Data>, path: string, query: URLSearchParams): Promise<{ status: number; body: string }> {
  switch (path) {
    case '/login':
      await session.login(query.get('user') ?? 'alice');
      return { status: 200, body: 'signed in' };
    case '/me':
      return {
        status: 200,
        body: JSON.stringify({ user: session.userId, bound: session.deviceBound, id: session.id, count: session.get('count') ?? 0 }),
      };
    case '/count': {
      const count = (session.get('count') ?? 0) + 1;
      session.set('count', count);
      return { status: 200, body: String(count) };
    }
    case '/logout':
      await session.flush();
      return { status: 200, body: 'signed out' };
    default:
      return { status: 404, body: 'not found' };
  }
}

const text = (r: { status: number; body: string }) => new Response(r.body, { status: r.status, headers: { 'Content-Type': 'text/plain' } });

async function fetchServer(fetch: (request: Request) => Response | Promise<Response>): Promise<Running> {
  const server = serveFetch({ fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return listen(server as Server);
}

const split = (url: string) => {
  const u = new URL(url, 'http://localhost');
  return { path: u.pathname, query: u.searchParams };
};

/** One server per adapter, each in its framework's own shape; the DBSC endpoints are never routes of the app. */
const adapters: Record<string, (sessions: Sessions<Data>) => Promise<Running>> = {
  node: (sessions) =>
    listen(
      createServer(
        nodeWithSession(sessions, async (req: IncomingMessage, res: ServerResponse, session) => {
          const { path, query } = split(req.url!);
          const r = await route(session, path, query);
          res.writeHead(r.status, { 'Content-Type': 'text/plain' });
          res.end(r.body);
        }),
      ),
    ),
  express: (sessions) => {
    const app = express();
    app.use(expressAdapter.sessionMiddleware(sessions));
    app.use(async (req, res) => {
      const { path, query } = split(req.originalUrl);
      const r = await route(expressAdapter.getSession<Data>(req), path, query);
      res.status(r.status).type('text/plain').send(r.body);
    });
    return listen(createServer(app));
  },
  fastify: async (sessions) => {
    const app = Fastify();
    await app.register(sessionPlugin, { sessions });
    app.all('/*', async (request, reply) => {
      const { path, query } = split(request.url);
      const r = await route(request.session as unknown as Session<Data>, path, query);
      return reply.code(r.status).type('text/plain').send(r.body);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  },
  hono: (sessions) => {
    const app = new Hono<honoAdapter.SessionEnv<Data>>();
    app.use(honoAdapter.sessionMiddleware(sessions));
    app.all('*', async (c) => {
      const { path, query } = split(c.req.url);
      return text(await route(c.get('session'), path, query));
    });
    return fetchServer(app.fetch);
  },
  web: (sessions) =>
    fetchServer(
      webWithSession(sessions, async (request, session) => {
        const { path, query } = split(request.url);
        return text(await route(session, path, query));
      }),
    ),
  koa: (sessions) => {
    const app = new Koa();
    app.silent = true;
    app.use(koaAdapter.sessionMiddleware(sessions));
    app.use(async (ctx) => {
      const { path, query } = split(ctx.url);
      const r = await route(ctx.session as Session<Data>, path, query);
      ctx.status = r.status;
      ctx.type = 'text/plain';
      ctx.body = r.body;
    });
    return listen(createServer(app.callback()));
  },
  h3: async (sessions) => {
    const app = new H3();
    app.use(h3Adapter.sessionMiddleware(sessions));
    app.all('/**', async (event) => {
      const session = await h3Adapter.useSession(event, sessions);
      return text(await route(session, event.url.pathname, event.url.searchParams));
    });
    const server = serveH3(app, { port: 0, hostname: '127.0.0.1', silent: true, manual: false });
    await server.ready();
    return { url: server.url!.replace(/\/$/, ''), close: () => server.close(true) };
  },
  // React Router's server middleware, called as the router calls it (request, context, next).
  'react-router': (sessions) => {
    const middleware = rrAdapter.sessionMiddleware(sessions);
    return fetchServer(async (request) => {
      const context = new RouterContextProvider();
      const next = async () => {
        const { path, query } = split(request.url);
        return text(await route(rrAdapter.getSession<Data>(context), path, query));
      };
      return (await middleware({ request, context, params: {}, unstable_pattern: '' } as never, next as never)) as Response;
    });
  },
  // SvelteKit's server hook, called as SvelteKit calls it (event, resolve).
  sveltekit: (sessions) => {
    const handle = sessionHandle(sessions);
    return fetchServer(async (request) => {
      const event = { request, locals: {} as { session: Session<Data> }, url: new URL(request.url) };
      return handle({
        event: event as never,
        resolve: async () => text(await route(event.locals.session, event.url.pathname, event.url.searchParams)),
      });
    });
  },
  // Next.js: the proxy answers the endpoints; route handlers use sessionkit/web's withSession.
  next: (sessions) => {
    const handler = webWithSession(sessions, async (request, session) => {
      const { path, query } = split(request.url);
      return text(await route(session, path, query));
    });
    return fetchServer(async (request) => (await deviceBoundResponse(sessions, request)) ?? handler(request));
  },
};

class Clock {
  now = Date.parse('2026-06-01T12:00:00Z');
  advance(seconds: number): void {
    this.now += seconds * 1000;
  }
}

const recorded = () => {
  const lines: string[] = [];
  return {
    lines,
    logger: { warn: (m: string, d?: unknown) => lines.push(`${m} ${JSON.stringify(d ?? {})}`), error: (m: string) => lines.push(m) },
  };
};

function sessionsFor(store: AnyStore, clock: Clock, extra: Partial<SessionsOptions<AnyStore>> = {}): Sessions<Data> {
  return makeSessions<Data>({ store, clock: () => clock.now, deviceBound: { cookieMaxAge: 600 }, ...extra }, () => store);
}

async function me(c: DbscClient): Promise<{ user: string | null; bound: boolean; id: string | null; count: number; setCookie: string[] }> {
  const res = await c.fetch('/me');
  assert.equal(res.status, 200);
  return { ...((await res.json()) as object), setCookie: res.headers.getSetCookie() } as Awaited<ReturnType<typeof me>>;
}

/** Sign-in, registration, the stolen-cookie case, expiry and refresh, logout: what every adapter must do. */
async function lifeOfABoundSession(url: string, clock: Clock, alg: 'ES256' | 'RS256' = 'ES256'): Promise<void> {
  const c = new DbscClient(url, alg);
  const login = await c.fetch('/login?user=alice');
  assert.equal(login.status, 200);
  const header = login.headers.get('secure-session-registration');
  assert.match(header ?? '', /^\(ES256 RS256\);path="\/\.sessionkit\/dbsc\/register";challenge="[A-Za-z0-9_-]{43}"$/);

  const reg = await c.register();
  assert.equal(reg.status, 200, await reg.clone().text());
  assert.equal(reg.headers.get('cache-control'), 'no-store');
  const bound = reg.headers.getSetCookie().find((s) => s.startsWith('sessionid_bound='));
  assert.match(bound ?? '', /^sessionid_bound=[A-Za-z0-9_-]{43}; Max-Age=600; Secure; HttpOnly; Path=\/; SameSite=Lax$/);
  const instructions = c.instructions!;
  assert.equal(instructions.refresh_url, '/.sessionkit/dbsc/refresh');
  assert.deepEqual(instructions.scope, { origin: url, include_site: false });
  assert.deepEqual(instructions.credentials, [
    { type: 'cookie', name: 'sessionid_bound', attributes: 'Secure; HttpOnly; Path=/; SameSite=Lax' },
  ]);

  const signedIn = await me(c);
  assert.equal(signedIn.user, 'alice');
  assert.equal(signedIn.bound, true);
  assert.equal(signedIn.id, instructions.session_identifier, 'the DBSC session identifier is the public id');
  assert.equal(await (await c.fetch('/count')).text(), '1');

  // The stolen-cookie case: the session cookie alone, on another machine.
  const thief = c.stolen();
  const seen = await me(thief);
  assert.equal(seen.user, null);
  assert.equal(seen.bound, false);
  assert.equal(seen.count, 0);
  const write = await thief.fetch('/count');
  assert.equal(write.status, 200);
  assert.deepEqual(write.headers.getSetCookie(), [], 'nothing written: no new session, no expired cookie');
  const logout = await thief.fetch('/logout');
  assert.deepEqual(logout.headers.getSetCookie(), [], 'a thief cannot sign the owner out either');
  assert.equal((await me(c)).count, 1, 'the owner’s session is as it was');
  assert.equal((await me(c)).user, 'alice');

  // Ten minutes later the bound cookie has expired: the request sees no session until a refresh.
  clock.advance(601);
  const stale = await me(c);
  assert.equal(stale.user, null);
  assert.deepEqual(stale.setCookie, [], 'no expired cookie: the browser may be refreshing');
  const { first, final } = await c.refresh();
  assert.equal(first.status, 403);
  assert.equal(first.headers.get('cache-control'), 'no-store');
  assert.equal(parseChallenge(first.headers.get('secure-session-challenge')!).id, instructions.session_identifier);
  assert.equal(final.status, 200, await final.clone().text());
  assert.match(final.headers.getSetCookie().find((s) => s.startsWith('sessionid_bound=')) ?? '', /Max-Age=600/);
  const back = await me(c);
  assert.equal(back.user, 'alice');
  assert.equal(back.count, 1);

  // Logout ends the binding: the browser's next refresh is told to stop.
  await c.fetch('/logout');
  const ended = await c.fetch('/.sessionkit/dbsc/refresh', {
    method: 'POST',
    headers: { 'Sec-Secure-Session-Id': instructions.session_identifier },
  });
  assert.equal(ended.status, 200);
  assert.deepEqual(await ended.json(), { continue: false });
}

describe('device-bound sessions on every adapter (MemoryStore)', () => {
  for (const [name, start] of Object.entries(adapters)) {
    it(`${name}: login → registration → bound cookie; a copied session cookie loads nothing; refresh through the 403 challenge; logout ends it`, async () => {
      const clock = new Clock();
      const store = new MemoryStore();
      const server = await start(sessionsFor(store, clock));
      try {
        await lifeOfABoundSession(server.url, clock);
      } finally {
        await server.close();
      }
    });
  }

  it('no route for the app to write: apps with only their own routes answer the endpoints (Fastify, Hono, h3)', async () => {
    const sessions = sessionsFor(new MemoryStore(), new Clock());
    const post = () => new Request('http://x/.sessionkit/dbsc/refresh', { method: 'POST' });
    const fastify = Fastify();
    await fastify.register(sessionPlugin, { sessions });
    fastify.get('/me', async () => 'me');
    const hono = new Hono();
    hono.use(honoAdapter.sessionMiddleware(sessions));
    hono.get('/me', (c) => c.text('me'));
    const h3 = new H3();
    h3.use(h3Adapter.sessionMiddleware(sessions));
    h3.get('/me', () => 'me');
    const answers = [
      await fastify.inject({ method: 'POST', url: '/.sessionkit/dbsc/refresh' }).then((r) => ({ status: r.statusCode, body: r.body })),
      await Promise.resolve(hono.fetch(post())).then(async (r: Response) => ({ status: r.status, body: await r.text() })),
      await Promise.resolve(h3.fetch(post())).then(async (r: Response) => ({ status: r.status, body: await r.text() })),
    ];
    for (const a of answers) assert.deepEqual(a, { status: 400, body: 'Bad Request: the device-bound session refresh was refused.\n' });
    await fastify.close();
  });

  it('a second login (cycleKey) keeps the binding until the browser registers again; then the old DBSC session is told to stop', async () => {
    const clock = new Clock();
    const server = await adapters.node!(sessionsFor(new MemoryStore(), clock));
    try {
      const c = new DbscClient(server.url);
      await c.fetch('/login?user=alice');
      await c.register();
      const first = c.instructions!.session_identifier;
      const again = await c.fetch('/login?user=alice'); // e.g. after "enter your password again"
      assert.match(again.headers.get('secure-session-registration') ?? '', /challenge=/, 'a new registration is offered');
      assert.notEqual((await me(c)).id, first, 'the session has a new key and public id');
      // the browser's existing DBSC session still refreshes under the identifier it was given
      clock.advance(60);
      const { final } = await c.refresh();
      assert.equal(final.status, 200);
      assert.equal((await me(c)).user, 'alice');
      // the browser takes the new registration: a new key, a new identifier; the old one is ended
      const oldKey = c.key!;
      assert.equal((await c.register()).status, 200);
      assert.notEqual(c.instructions!.session_identifier, first);
      const stale = await c.fetch('/.sessionkit/dbsc/refresh', { method: 'POST', headers: { 'Sec-Secure-Session-Id': first } });
      assert.deepEqual(await stale.json(), { continue: false });
      assert.notEqual(oldKey, c.key);
      clock.advance(601);
      assert.equal((await c.refresh()).final.status, 200);
      assert.equal((await me(c)).bound, true);
    } finally {
      await server.close();
    }
  });

  it('RS256 keys register and refresh too', async () => {
    const clock = new Clock();
    const server = await adapters.node!(sessionsFor(new MemoryStore(), clock));
    try {
      await lifeOfABoundSession(server.url, clock, 'RS256');
    } finally {
      await server.close();
    }
  });
});

/** The security property, on one store: what a stolen cookie, another key or a replayed challenge gets. */
async function securityCases(makeStore: () => Promise<{ store: AnyStore; close(): Promise<void> }>): Promise<void> {
  const clock = new Clock();
  const { store, close } = await makeStore();
  const { lines, logger } = recorded();
  const sessions = sessionsFor(store, clock, { logger });
  const server = await adapters.node!(sessions);
  const refreshUrl = '/.sessionkit/dbsc/refresh';
  const registerUrl = '/.sessionkit/dbsc/register';
  try {
    const a = new DbscClient(server.url);
    await a.fetch('/login?user=alice');
    const firstReg = a.registration!;
    assert.equal((await a.register()).status, 200);
    const idA = a.instructions!.session_identifier;
    assert.equal((await me(a)).bound, true);

    const b = new DbscClient(server.url);
    await b.fetch('/login?user=bob');
    assert.equal((await b.register()).status, 200);
    const idB = b.instructions!.session_identifier;

    // the stolen-cookie case on this store: an empty session, nothing written, no cookie sent
    await a.fetch('/count');
    const copy = a.stolen();
    const write = await copy.fetch('/count');
    assert.equal(await write.text(), '1', 'the copy sees a session of its own, empty');
    assert.deepEqual(write.headers.getSetCookie(), []);
    assert.equal((await me(a)).count, 1, 'nothing was written under the bound session');

    const list = await sessions.listUserSessions('alice');
    assert.equal(list.length, 1);
    assert.equal(list[0]!.deviceBound, true);
    assert.equal(list[0]!.id, idA);

    // A replayed registration (same challenge, same or another key) is refused.
    const replay = await a.fetch(registerUrl, {
      method: 'POST',
      headers: { 'Secure-Session-Response': await proof(a.key!, firstReg.challenge, { withJwk: true }) },
    });
    assert.equal(replay.status, 400);
    const thiefKey = await makeKey('ES256');
    const steal = await a.stolen().fetch(registerUrl, {
      method: 'POST',
      headers: { 'Secure-Session-Response': await proof(thiefKey, firstReg.challenge, { withJwk: true }) },
    });
    assert.equal(steal.status, 400, 'a thief cannot register its own key with a used challenge');

    // The refresh challenge flow, and what it refuses.
    const challengeFor = async (c: DbscClient, id: string) => {
      const res = await c.fetch(refreshUrl, { method: 'POST', headers: { 'Sec-Secure-Session-Id': id } });
      assert.equal(res.status, 403);
      return parseChallenge(res.headers.get('secure-session-challenge')!).challenge;
    };
    const signed = (c: DbscClient, id: string, jwt: string) =>
      c.fetch(refreshUrl, { method: 'POST', headers: { 'Sec-Secure-Session-Id': id, 'Secure-Session-Response': jwt } });

    // another key: the thief has the session cookie and asks for a challenge itself
    const thief = a.stolen();
    const thiefChallenge = await challengeFor(thief, idA);
    const forged = await signed(thief, idA, await proof(thiefKey, thiefChallenge, { withJwk: false }));
    assert.equal(forged.status, 400, 'a refresh signed by another key is refused');
    assert.deepEqual(
      forged.headers.getSetCookie().filter((s) => s.startsWith('sessionid_bound=')),
      [],
    );
    assert.equal((await me(thief)).user, null, 'and the thief still sees no session');

    // a challenge issued to another session
    const bChallenge = await challengeFor(b, idB);
    assert.equal(
      (await signed(a, idA, await proof(a.key!, bChallenge, { withJwk: false }))).status,
      400,
      'a challenge for another session is refused',
    );

    // a good refresh, then the same proof again
    const c1 = await challengeFor(a, idA);
    const good = await proof(a.key!, c1, { withJwk: false });
    const ok = await signed(a, idA, good);
    assert.equal(ok.status, 200);
    assert.equal((await signed(a, idA, good)).status, 400, 'a replayed challenge is refused');

    // a registration challenge does not refresh; a jwk in a refresh proof is refused
    const c2 = await challengeFor(a, idA);
    assert.equal((await signed(a, idA, await proof(a.key!, c2, { withJwk: true }))).status, 400, 'jwk at registration only');
    // the refusal left the challenge unused: the right proof over it still refreshes
    assert.equal((await signed(a, idA, await proof(a.key!, c2, { withJwk: false }))).status, 200);

    // an expired challenge
    const c3 = await challengeFor(a, idA);
    clock.advance(301);
    assert.equal((await signed(a, idA, await proof(a.key!, c3, { withJwk: false }))).status, 400, 'an expired challenge is refused');

    // legacy Sec-Session-* names and quoted structured-field strings are accepted
    const legacy = await a.fetch(refreshUrl, { method: 'POST', headers: { 'Sec-Session-Id': `"${idA}"` } });
    assert.equal(legacy.status, 403);
    const c4 = parseChallenge(legacy.headers.get('secure-session-challenge')!).challenge;
    const legacyOk = await a.fetch(refreshUrl, {
      method: 'POST',
      headers: { 'Sec-Session-Id': idA, 'Sec-Session-Response': `"${await proof(a.key!, c4, { withJwk: false })}"` },
    });
    assert.equal(legacyOk.status, 200);
    assert.equal((await me(a)).user, 'alice');

    // a refresh naming another session than the cookie's is told to stop
    const mixed = await a.fetch(refreshUrl, { method: 'POST', headers: { 'Sec-Secure-Session-Id': idB } });
    assert.deepEqual(await mixed.json(), { continue: false });

    // Secure-Session-Skipped is logged
    clock.advance(601);
    const skipped = await a.fetch('/me', { headers: { 'Secure-Session-Skipped': `unreachable;session_identifier="${idA}"` } });
    assert.equal(JSON.parse(await skipped.text()).user, null);
    assert.ok(
      lines.some((l) => l.includes('Secure-Session-Skipped') && l.includes('unreachable')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('refused a device-bound session refresh')),
      'refusals are logged',
    );

    // revoke ends the binding on the store: the next refresh is told to stop, the session loads empty
    await a.refresh();
    assert.equal((await me(a)).user, 'alice');
    assert.equal(await sessions.revokeSession(idA), true);
    const afterRevoke = await a.fetch(refreshUrl, { method: 'POST', headers: { 'Sec-Secure-Session-Id': idA } });
    assert.deepEqual(await afterRevoke.json(), { continue: false });
    assert.equal((await me(a)).user, null);

    // logout ends it too
    await b.refresh();
    await b.fetch('/logout');
    const afterLogout = await b.fetch(refreshUrl, { method: 'POST', headers: { 'Sec-Secure-Session-Id': idB } });
    assert.deepEqual(await afterLogout.json(), { continue: false });
    assert.deepEqual(await sessions.listUserSessions('bob'), []);

    // an expired session answers {"continue": false} as well
    const c = new DbscClient(server.url);
    await c.fetch('/login?user=carol');
    await c.register();
    clock.advance(1209600 + 1);
    const expired = await c.fetch(refreshUrl, { method: 'POST', headers: { 'Sec-Secure-Session-Id': c.instructions!.session_identifier } });
    assert.deepEqual(await expired.json(), { continue: false });
  } finally {
    await server.close();
    await close();
  }
}

describe('the security property on every store (node adapter)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let postgres: RunningPostgres | undefined;
  const dirs: string[] = [];
  before(async () => {
    [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  });
  after(async () => {
    await stopAll();
    await postgres?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('MemoryStore', () => securityCases(async () => ({ store: new MemoryStore(), close: async () => {} })));

  it('SqliteStore', () =>
    securityCases(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sessionkit-dbsc-'));
      dirs.push(dir);
      const store = new SqliteStore({ path: join(dir, 'sessions.sqlite3') });
      return { store, close: () => store.close() };
    }));

  it('RedisStore (a real redis-server)', () =>
    securityCases(async () => {
      const client = createClient({ url: redis!.url });
      await client.connect();
      const store = new RedisStore({ client, prefix: `dbsc${Date.now()}:` });
      return { store, close: () => client.quit().then(() => {}) };
    }));

  it('PostgresStore (a real PostgreSQL)', () =>
    securityCases(async () => {
      const pool = new pg.Pool({ connectionString: postgres!.url, max: 3 });
      pool.on('error', () => {});
      const store = new PostgresStore({ pool });
      return { store, close: () => pool.end() };
    }));

  it('CachedStore (Redis in front of PostgreSQL)', () =>
    securityCases(async () => {
      const client = createClient({ url: redis!.url });
      await client.connect();
      const pool = new pg.Pool({ connectionString: postgres!.url, max: 3 });
      pool.on('error', () => {});
      const store = new CachedStore({
        cache: new RedisStore({ client, prefix: `dbsc-cache${Date.now()}:` }),
        store: new PostgresStore({ pool, table: 'dbsc_cached' }),
      });
      return {
        store,
        close: async () => {
          await client.quit();
          await pool.end();
        },
      };
    }));

  it('parallel refreshes over one challenge: exactly one gets a bound cookie (SqliteStore, two processes’ worth of engines)', async () => {
    const clock = new Clock();
    const dir = mkdtempSync(join(tmpdir(), 'sessionkit-dbsc-'));
    dirs.push(dir);
    const path = join(dir, 'sessions.sqlite3');
    const storeA = new SqliteStore({ path });
    const storeB = new SqliteStore({ path });
    const one = await adapters.node!(sessionsFor(storeA, clock));
    const two = await adapters.web!(sessionsFor(storeB, clock));
    try {
      const c = new DbscClient(one.url);
      await c.fetch('/login');
      await c.register();
      const id = c.instructions!.session_identifier;
      const res = await c.fetch('/.sessionkit/dbsc/refresh', { method: 'POST', headers: { 'Sec-Secure-Session-Id': id } });
      const { challenge } = parseChallenge(res.headers.get('secure-session-challenge')!);
      const jwt = await proof(c.key!, challenge, { withJwk: false });
      const send = (base: string) =>
        fetch(`${base}/.sessionkit/dbsc/refresh`, {
          method: 'POST',
          headers: { cookie: c.cookieHeader, 'Sec-Secure-Session-Id': id, 'Secure-Session-Response': jwt },
        });
      const answers = await Promise.all([send(one.url), send(two.url), send(one.url), send(two.url)]);
      assert.deepEqual(answers.map((r) => r.status).sort(), [200, 400, 400, 400]);
    } finally {
      await one.close();
      await two.close();
      await storeA.close();
      await storeB.close();
    }
  });
});

describe('what a browser without DBSC gets', () => {
  it('an ordinary session: it never registers, and its session cookie keeps working', async () => {
    const clock = new Clock();
    const server = await adapters.express!(sessionsFor(new MemoryStore(), clock));
    try {
      const c = new DbscClient(server.url);
      await c.fetch('/login?user=dave');
      await c.fetch('/count');
      clock.advance(3600);
      const seen = await me(c);
      assert.equal(seen.user, 'dave');
      assert.equal(seen.bound, false);
      assert.equal(seen.count, 1);
    } finally {
      await server.close();
    }
  });
});
