/**
 * PostgreSQL faults against a real server: stopped mid-way, paused (hung), restarted. Requests that
 * need the store fail fast with StoreUnavailableError, the process does not crash on connections
 * the server drops, and once the server is back the same sessions load with their data intact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createSessions, createStore, StoreUnavailableError } from '../src/index.js';
import { PostgresStore } from '../src/stores/postgres.js';
import { recordingLogger } from '../src/testing/store-suite.js';
import { startPostgres, type RunningPostgres } from './support/postgres.js';

/** Waits (polling, up to `ms`) until `check` holds: for events in another process, never for time to pass. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function elapsed<T>(p: Promise<T>): Promise<[number, PromiseSettledResult<T>]> {
  const t0 = Date.now();
  const [r] = await Promise.allSettled([p]);
  return [Date.now() - t0, r!];
}

function assertUnavailable(r: PromiseSettledResult<unknown>): void {
  assert.equal(r.status, 'rejected', 'expected the store call to fail');
  const err = (r as PromiseRejectedResult).reason;
  assert.ok(err instanceof StoreUnavailableError, `expected StoreUnavailableError, got ${err}`);
  assert.match(err.message, /^sessionkit: /);
}

describe('PostgreSQL faults', () => {
  let server!: RunningPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.destroy();
  });

  it('stopped mid-way: load and commit fail fast with StoreUnavailableError, no crash; restarted: the same session loads intact', async () => {
    const logger = recordingLogger();
    // The user's pool, with no timeouts of its own: the store bounds every call.
    const pool = new pg.Pool({ connectionString: server.url, max: 4 });
    const store = new PostgresStore({ pool, logger, timeout: 2000 });
    const sessions = createSessions({ store, logger });
    try {
      const s = await sessions.load();
      s.set('cart', ['apple', 'pear']);
      s.set('user', 'alice');
      const cookie = (await sessions.commit(s))!.split(';')[0]!;
      await Promise.all([store.stats(), store.stats(), store.stats()]); // several idle connections in the pool
      assert.ok(pool.idleCount >= 1);

      await server.stop();
      // The server closed the idle connections: the pool emits 'error', which the store logs.
      // Without its listener this test process would die of an unhandled 'error' event.
      await until(() => logger.records.some((r) => r.level === 'error' && /connection lost while idle/.test(r.message)));

      const [loadMs, loaded] = await elapsed(sessions.load(cookie));
      assertUnavailable(loaded);
      assert.ok(loadMs < 2500, `load failed after ${loadMs} ms`);

      const fresh = await sessions.load();
      fresh.set('x', 1);
      const [commitMs, committed] = await elapsed(sessions.commit(fresh));
      assertUnavailable(committed);
      assert.ok(commitMs < 2500, `commit failed after ${commitMs} ms`);

      await server.restart();
      const back = await sessions.load(cookie);
      assert.deepEqual(back.get('cart'), ['apple', 'pear']);
      assert.equal(back.get('user'), 'alice');
      back.modify('cart', (cart: string[]) => [...cart, 'plum']);
      assert.ok(await sessions.commit(back));
      assert.deepEqual((await sessions.load(cookie)).get('cart'), ['apple', 'pear', 'plum']);
    } finally {
      await sessions.close();
      await pool.end();
    }
  });

  it('a server that stops answering: the call fails within the timeout instead of hanging, then recovers', async () => {
    const logger = recordingLogger();
    const pool = new pg.Pool({ connectionString: server.url, max: 1 });
    const store = new PostgresStore({ pool, logger, timeout: 800 });
    const key = await (async () => {
      const sessions = createSessions({ store, logger });
      const s = await sessions.load();
      s.set('n', 42);
      return (await sessions.commit(s))!.split(';')[0]!.split('=')[1]!;
    })();
    // The backend serving the pool's one connection, and the postmaster that would accept a new one.
    const backend = (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const paused = [backend, server.pid];
    for (const pid of paused) process.kill(pid, 'SIGSTOP');
    try {
      const [hungMs, hung] = await elapsed(store.load(key));
      assertUnavailable(hung);
      assert.match((hung as PromiseRejectedResult).reason.message, /did not answer within 800 ms|timeout/i);
      assert.ok(hungMs >= 700 && hungMs < 2000, `a hung query failed after ${hungMs} ms`);
      const [connectMs, connect] = await elapsed(store.load(key)); // needs a new connection: the postmaster is paused
      assertUnavailable(connect);
      assert.ok(connectMs < 2000, `a hung connect failed after ${connectMs} ms`);
    } finally {
      for (const pid of paused) process.kill(pid, 'SIGCONT');
    }
    assert.equal((await store.load(key))!.data.n, 42);
    await store.close();
    await pool.end();
  });

  for (const scheme of ['postgres', 'postgresql']) {
    it(`createStore('${scheme}://…') round trip; close() ends the pool it made`, async () => {
      const url = server.url.replace(/^postgres:/, `${scheme}:`);
      const logger = recordingLogger();
      const store = createStore(url, { logger });
      assert.ok(store instanceof PostgresStore);
      const sessions = createSessions({ store, logger });
      const s = await sessions.load();
      s.set('scheme', scheme);
      const cookie = (await sessions.commit(s))!.split(';')[0]!;
      assert.equal((await sessions.load(cookie)).get('scheme'), scheme);
      await sessions.close();
      await assert.rejects(store.load(cookie.split('=')[1]!), StoreUnavailableError);
    });
  }

  it('createStore pool: a server that went away is StoreUnavailableError, not a crash', async () => {
    const logger = recordingLogger();
    const store = createStore(server.url, { logger }) as PostgresStore;
    const sessions = createSessions({ store, logger });
    try {
      const s = await sessions.load();
      s.set('k', 'v');
      const cookie = (await sessions.commit(s))!.split(';')[0]!;
      await server.stop();
      await until(() => logger.records.some((r) => /connection lost while idle/.test(r.message)));
      const [ms, r] = await elapsed(sessions.load(cookie));
      assertUnavailable(r);
      assert.ok(ms < 4000, `failed after ${ms} ms`);
      await server.restart();
      assert.equal((await sessions.load(cookie)).get('k'), 'v');
    } finally {
      await sessions.close();
    }
  });

  it('a URL naming no reachable server fails with StoreUnavailableError within the connect timeout', async () => {
    const store = createStore('postgres://postgres@127.0.0.1:1/nowhere', { logger: recordingLogger() });
    const [ms, r] = await elapsed((store as PostgresStore).load('a'.repeat(32)));
    assertUnavailable(r);
    assert.ok(ms < 4000, `failed after ${ms} ms`);
    await store.close();
  });
});
