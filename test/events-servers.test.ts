// Session events against real servers: PostgreSQL keeps an expired row (so a late visitor is
// `expired`), Redis deletes it (so the visitor is `rejected_cookie`); two processes writing one
// session on Redis conflict; a Redis that stops answering is one `store_error` per failed request.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { createClient } from 'redis';
import { createSessions, PostgresStore, RedisStore, type SessionEvent, StoreUnavailableError } from '../src/index.js';
import { startPostgres } from './support/postgres.js';
import { startRedis, stopAll } from './support/redis.js';

const quiet = { warn() {}, error() {} };
const cookieOf = (setCookie: string | null) => setCookie!.split(';')[0]!;
/** Lets the engine's after-load question to the store (expired or unknown?) be answered. */
const answered = async (events: SessionEvent[], n: number) => {
  for (let i = 0; i < 200 && events.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('session events on real servers', () => {
  after(() => stopAll());

  it('PostgreSQL: a visitor with a session past its expiry is expired; after clearExpired, an unknown cookie', async () => {
    const server = await startPostgres();
    const pool = new pg.Pool({ connectionString: server.url, max: 2 });
    pool.on('error', () => {});
    try {
      let now = Date.UTC(2030, 0, 1);
      const events: SessionEvent[] = [];
      const sessions = createSessions({
        store: new PostgresStore({ pool, logger: quiet }),
        clock: () => now,
        cookie: { maxAge: 60 },
        onEvent: (e) => void events.push(e),
      });
      const first = await sessions.load(undefined);
      first.set('n', 1);
      const cookie = cookieOf(await sessions.commit(first));
      now += 61_000;
      assert.equal((await sessions.load(cookie)).key, null);
      await answered(events, 2);
      assert.deepEqual(
        events.map((e) => [e.type, e.id, e.at.getTime()]),
        [
          ['created', first.id, now - 61_000],
          ['expired', first.id, now],
        ],
      );
      assert.equal(await sessions.clearExpired(), 1);
      await sessions.load(cookie);
      await answered(events, 3);
      assert.deepEqual(events[2]?.type, 'rejected_cookie');
      assert.equal(events[2]?.id, first.id);
    } finally {
      await pool.end();
      await server.destroy();
    }
  });

  it('Redis: two processes writing one session conflict (one event), an expired key is only unknown, a stopped server is one store_error per request', async () => {
    const redis = await startRedis();
    const clients = [createClient({ url: redis.url }), createClient({ url: redis.url })];
    for (const c of clients) c.on('error', () => {});
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const events: SessionEvent[] = [];
      const make = (client: (typeof clients)[number]) =>
        createSessions({
          store: new RedisStore({ client, prefix: 'ev:', logger: quiet, timeout: 300 }),
          cookie: { maxAge: 1 },
          logger: quiet,
          onEvent: (e) => void events.push(e),
        });
      const [a, b] = [make(clients[0]!), make(clients[1]!)];
      const first = await a.load(undefined);
      first.set('n', 1);
      const cookie = cookieOf(await a.commit(first));
      const one = await a.load(cookie);
      const two = await b.load(cookie);
      one.set('x', 1);
      two.set('y', 2);
      await a.commit(one);
      await b.commit(two);
      assert.deepEqual(
        events.map((e) => [e.type, e.id]),
        [
          ['created', first.id],
          ['conflict', first.id],
        ],
      );
      // Redis removes the key at its expiry: a late visitor finds nothing to call expired
      await new Promise((resolve) => setTimeout(resolve, 1100));
      events.length = 0;
      await a.load(cookie);
      await answered(events, 1);
      assert.deepEqual(
        events.map((e) => [e.type, e.id]),
        [['rejected_cookie', first.id]],
      );
      const live = await a.load(undefined);
      live.set('n', 1);
      const liveCookie = cookieOf(await a.commit(live));
      events.length = 0;
      process.kill(redis.pid!, 'SIGSTOP');
      try {
        await assert.rejects(a.load(liveCookie), StoreUnavailableError);
      } finally {
        process.kill(redis.pid!, 'SIGCONT');
      }
      assert.deepEqual(
        events.map((e) => [e.type, e.id, e.operation]),
        [['store_error', live.id, 'load']],
      );
    } finally {
      await Promise.all(clients.map((c) => c.quit().catch(() => {})));
    }
  });
});
