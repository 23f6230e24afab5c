import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { withSession } from '../adapters/node.js';
import {
  ConfigError,
  CookieStore,
  createSessions,
  MemoryStore,
  type SessionEvent,
  type SessionsOptions,
  SqliteStore,
  StoreUnavailableError,
  type AnyStore,
} from '../index.js';
import { emitSessionEvent } from './events.js';
import { digestKey, newSessionKey } from './keys.js';
import type { Logger } from './log.js';

const T0 = Date.UTC(2030, 0, 1);
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'events-'));
  dirs.push(dir);
  return dir;
};

/** Sessions whose events land in `events`, on an injected clock, with a logger that keeps what it is told. */
function setup(options: SessionsOptions<AnyStore> = {}) {
  const events: SessionEvent[] = [];
  const logged: { level: string; message: string; details?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    warn: (message, details) => logged.push({ level: 'warn', message, details }),
    error: (message, details) => logged.push({ level: 'error', message, details }),
  };
  const clock = { now: T0 };
  const sessions = createSessions({
    store: new MemoryStore(),
    clock: () => clock.now,
    logger,
    onEvent: (event) => {
      events.push(event);
    },
    ...options,
  });
  return { sessions, events, logged, clock };
}

/** The cookie header a Set-Cookie value gives back. */
const cookieOf = (setCookie: string | null) => setCookie!.split(';')[0]!;

/** A saved session: its cookie header, key and public id. */
async function saved(sessions: ReturnType<typeof setup>['sessions'], data: Record<string, unknown> = { n: 1 }) {
  const session = await sessions.load(undefined);
  for (const [k, v] of Object.entries(data)) session.set(k, v as never);
  const cookie = cookieOf(await sessions.commit(session));
  return { cookie, key: session.key!, id: session.id! };
}

/** Lets a promise the engine started without waiting (the expired check) settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('onEvent', () => {
  it('rejects an onEvent that is not a function with a ConfigError naming it', () => {
    for (const onEvent of ['audit', 42, {}, true]) {
      assert.throws(
        () => createSessions({ store: new MemoryStore(), onEvent } as never),
        (err: unknown) =>
          err instanceof ConfigError && err.option === 'onEvent' && /^sessionkit: option onEvent: give a function/.test(err.message),
      );
    }
  });

  it('created: once, with the public id (never the key) and the time of the injected clock', async () => {
    const { sessions, events, clock } = setup();
    clock.now = T0 + 5000;
    const { id, key } = await saved(sessions);
    assert.deepEqual(events, [{ type: 'created', id, userId: null, at: new Date(T0 + 5000) }]);
    assert.equal(id, digestKey(key));
    assert.ok(!JSON.stringify(events).includes(key));
  });

  it('a read-only request emits nothing, with or without a cookie', async () => {
    const { sessions, events } = setup();
    const { cookie } = await saved(sessions, { color: 'red' });
    events.length = 0;
    const session = await sessions.load(cookie);
    assert.equal(session.get('color'), 'red');
    assert.equal(await sessions.commit(session), null);
    const anonymous = await sessions.load(undefined);
    assert.equal(anonymous.get('color'), undefined);
    assert.equal(await sessions.commit(anonymous), null);
    await settle();
    assert.deepEqual(events, []);
  });

  it('an update of an existing session is no event', async () => {
    const { sessions, events } = setup();
    const { cookie } = await saved(sessions);
    events.length = 0;
    const session = await sessions.load(cookie);
    session.set('n', 2);
    assert.notEqual(await sessions.commit(session), null);
    assert.deepEqual(events, []);
  });

  it('renewed: cycleKey gives the new public id and the previous one', async () => {
    const { sessions, events } = setup();
    const { cookie, id: before } = await saved(sessions);
    const session = await sessions.load(cookie);
    await session.cycleKey();
    await sessions.commit(session);
    assert.deepEqual(
      events.map(({ at, ...e }) => e),
      [
        { type: 'created', id: before, userId: null },
        { type: 'renewed', id: session.id, previousId: before, userId: null },
      ],
    );
    assert.notEqual(session.id, before);
  });

  it('login: the new public id, the previous one, the user, and the user agent and address recorded', async () => {
    const { sessions, events } = setup();
    const { cookie, id: before } = await saved(sessions);
    events.length = 0;
    const req = { headers: { cookie, 'user-agent': 'Firefox/140' }, socket: { remoteAddress: '203.0.113.9' } };
    const session = await sessions.load(req as never);
    await session.login('42');
    await sessions.commit(session);
    assert.deepEqual(
      events.map(({ at, ...e }) => e),
      [{ type: 'login', id: session.id, previousId: before, userId: '42', userAgent: 'Firefox/140', ip: '203.0.113.9' }],
    );
  });

  it('login of a session never saved: created, then login with no previous id', async () => {
    const { sessions, events } = setup();
    const session = await sessions.load(undefined);
    await session.login('7');
    await sessions.commit(session);
    assert.deepEqual(
      events.map((e) => [e.type, e.id, e.userId, e.previousId]),
      [
        ['created', session.id, '7', undefined],
        ['login', session.id, '7', null],
      ],
    );
  });

  it('logout: flush of a signed-in session names it and its user', async () => {
    const { sessions, events, clock } = setup();
    const first = await sessions.load(undefined);
    await first.login('42');
    const cookie = cookieOf(await sessions.commit(first));
    events.length = 0;
    clock.now = T0 + 60_000;
    const session = await sessions.load(cookie);
    await session.flush();
    await sessions.commit(session);
    assert.deepEqual(events, [{ type: 'logout', id: first.id, userId: '42', at: new Date(T0 + 60_000) }]);
  });

  it('revoked: revokeSession, revokeUserSessions (with the user) and maxSessionsPerUser', async () => {
    const { sessions, events } = setup({ maxSessionsPerUser: 1 });
    const signIn = async (user: string) => {
      const s = await sessions.load(undefined);
      await s.login(user);
      await sessions.commit(s);
      return s.id!;
    };
    const a = await signIn('alice');
    events.length = 0;
    const b = await signIn('alice'); // the cap revokes the older one
    assert.deepEqual(
      events.filter((e) => e.type === 'revoked').map((e) => [e.id, e.userId]),
      [[a, 'alice']],
    );
    events.length = 0;
    assert.equal(await sessions.revokeSession(b), true);
    assert.equal(await sessions.revokeSession(b), false); // gone: no second event
    assert.deepEqual(
      events.map((e) => [e.type, e.id, e.userId]),
      [['revoked', b, null]],
    );
    const c = await signIn('bob');
    events.length = 0;
    assert.equal(await sessions.revokeUserSessions('bob'), 1);
    assert.deepEqual(
      events.map((e) => [e.type, e.id, e.userId]),
      [['revoked', c, 'bob']],
    );
  });

  for (const [name, make] of [
    ['MemoryStore', () => new MemoryStore()],
    ['SqliteStore', () => new SqliteStore({ path: join(tempDir(), 's.sqlite3') })],
  ] as const) {
    it(`expired: a request with a session ${name} still holds past its expiry`, async () => {
      const { sessions, events, clock } = setup({ store: make(), cookie: { maxAge: 60 } });
      const { cookie, id } = await saved(sessions);
      events.length = 0;
      clock.now = T0 + 61_000;
      const session = await sessions.load(cookie);
      assert.equal(session.key, null);
      await settle();
      assert.deepEqual(events, [{ type: 'expired', id, userId: null, at: new Date(T0 + 61_000) }]);
      // once clearExpired removed it, the same cookie is only unknown
      assert.equal(await sessions.clearExpired(), 1);
      events.length = 0;
      await sessions.load(cookie);
      await settle();
      assert.deepEqual(
        events.map((e) => [e.type, e.id]),
        [['rejected_cookie', id]],
      );
      await sessions.close();
    });
  }

  it('rejected_cookie: an unknown key names the public id it would have; a malformed cookie none; never the value', async () => {
    const { sessions, events } = setup();
    const unknown = newSessionKey();
    await sessions.load(`sessionid=${unknown}`);
    await sessions.load('sessionid=not-a-key!');
    await sessions.load('sessionid=abc');
    await settle();
    assert.deepEqual(
      events.map((e) => [e.type, e.id, e.userId]),
      [
        ['rejected_cookie', digestKey(unknown), null],
        ['rejected_cookie', null, null],
        ['rejected_cookie', null, null],
      ],
    );
    assert.ok(!JSON.stringify(events).includes(unknown));
  });

  it('rejected_cookie on the cookie store: a tampered cookie', async () => {
    const { sessions, events } = setup({ store: new CookieStore({ secret: 'kX9#vQ2!mZ7$pL4@wR8^tY1&nB5*cF3%' }) });
    const first = await sessions.load(undefined);
    first.set('n', 1);
    const cookie = cookieOf(await sessions.commit(first));
    assert.deepEqual(
      events.map((e) => [e.type, e.id]),
      [['created', null]],
    );
    events.length = 0;
    assert.equal((await sessions.load(cookie)).get('n'), 1);
    await sessions.load(`${cookie.slice(0, -2)}xx`);
    assert.deepEqual(
      events.map((e) => [e.type, e.id]),
      [['rejected_cookie', null]],
    );
  });

  it('conflict: a commit that merges a parallel change, once per merge', async () => {
    const { sessions, events } = setup();
    const { cookie, id } = await saved(sessions);
    events.length = 0;
    const one = await sessions.load(cookie);
    const two = await sessions.load(cookie);
    one.set('a', 1);
    two.set('b', 2);
    await sessions.commit(one);
    assert.equal(events.length, 0);
    await sessions.commit(two);
    assert.deepEqual(
      events.map((e) => [e.type, e.id]),
      [['conflict', id]],
    );
    const merged = await sessions.load(cookie);
    assert.deepEqual([merged.get('a'), merged.get('b')], [1, 2]);
  });

  it('store_error: once, with the operation, and the request still gets StoreUnavailableError', async () => {
    const store = new MemoryStore();
    const { sessions, events } = setup({ store });
    const { cookie, id } = await saved(sessions);
    events.length = 0;
    const broken = new Proxy(store, {
      get(target, name) {
        if (name === 'load') return () => Promise.reject(new Error('connection refused'));
        const value = Reflect.get(target, name);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const failing = setup({ store: broken });
    await assert.rejects(failing.sessions.load(cookie), StoreUnavailableError);
    assert.deepEqual(
      failing.events.map(({ at, ...e }) => e),
      [{ type: 'store_error', id, userId: null, operation: 'load', error: 'connection refused' }],
    );
    assert.deepEqual(events, []);
  });

  it('store_error on a write names the session and its user', async () => {
    const store = new MemoryStore();
    const { sessions } = setup({ store });
    const first = await sessions.load(undefined);
    await first.login('42');
    const cookie = cookieOf(await sessions.commit(first));
    const broken = new Proxy(store, {
      get(target, name) {
        if (name === 'update') return () => Promise.reject(new Error('read-only replica'));
        const value = Reflect.get(target, name);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const failing = setup({ store: broken });
    const session = await failing.sessions.load(cookie);
    session.set('n', 2);
    await assert.rejects(failing.sessions.commit(session), StoreUnavailableError);
    assert.deepEqual(
      failing.events.map(({ at, ...e }) => e),
      [{ type: 'store_error', id: first.id, userId: '42', operation: 'update', error: 'read-only replica' }],
    );
  });

  it('a handler that throws or rejects is logged and never breaks the request; a slow one never delays it', async () => {
    for (const onEvent of [
      () => {
        throw new Error('audit log full');
      },
      () => Promise.reject(new Error('audit log full')),
    ]) {
      const { sessions, logged } = setup({ onEvent });
      const { cookie } = await saved(sessions);
      assert.match(cookie, /^sessionid=/);
      await settle();
      assert.deepEqual(logged, [
        {
          level: 'error',
          message: 'the onEvent handler failed; the request went on',
          details: { event: 'created', error: 'audit log full' },
        },
      ]);
    }
    let calls = 0;
    const { sessions } = setup({
      onEvent: () => {
        calls++;
        return new Promise(() => {}); // never settles
      },
    });
    const { cookie } = await saved(sessions);
    assert.match(cookie, /^sessionid=/);
    assert.equal(calls, 1);
  });

  it('an audit log: a handler that returns what stream.write returns, each event a JSON line', async () => {
    const lines: string[] = [];
    const log = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const sessions = createSessions({
      store: new MemoryStore(),
      clock: () => T0,
      onEvent: (event) => log.write(`${JSON.stringify(event)}\n`),
    });
    const session = await sessions.load(undefined);
    await session.login('42');
    await sessions.commit(session);
    await settle();
    assert.deepEqual(
      lines.map((line) => JSON.parse(line)),
      [
        { type: 'created', id: session.id, userId: '42', at: new Date(T0).toISOString() },
        { type: 'login', id: session.id, previousId: null, userId: '42', userAgent: null, ip: null, at: new Date(T0).toISOString() },
      ],
    );
  });

  it('device_bound goes out through emitSessionEvent, the hook for code that binds sessions to devices', async () => {
    const { sessions, events, clock } = setup();
    clock.now = T0 + 1;
    emitSessionEvent(sessions, 'device_bound', { id: 'a'.repeat(64), userId: '42' });
    assert.deepEqual(events, [{ type: 'device_bound', id: 'a'.repeat(64), userId: '42', at: new Date(T0 + 1) }]);
    emitSessionEvent(createSessions({ store: new MemoryStore() }), 'device_bound', { id: null }); // no handler: nothing, no throw
  });

  it('through an adapter, each request emits its event once', async () => {
    const { sessions, events } = setup();
    const server = createServer(
      withSession(sessions, (req, res, session) => {
        if (req.url === '/login') {
          session
            .login('42')
            .then(() => res.end('in'))
            .catch(() => res.end('failed'));
          return;
        }
        if (req.url === '/write') session.set('n', session.get('n', 0) + 1);
        else session.get('n');
        res.end('ok');
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    after(() => server.close());
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const first = await fetch(`${base}/write`);
    const cookie = cookieOf(first.headers.get('set-cookie'));
    await fetch(`${base}/read`, { headers: { cookie } });
    await fetch(`${base}/write`, { headers: { cookie } });
    await fetch(`${base}/login`, { headers: { cookie } });
    assert.deepEqual(
      events.map((e) => e.type),
      ['created', 'login'],
    );
  });
});

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
