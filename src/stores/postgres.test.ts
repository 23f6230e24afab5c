import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres, type RunningPostgres } from '../../test/support/postgres.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { describeStore, recordingLogger } from '../testing/store-suite.js';
import { PostgresStore } from './postgres.js';
import { syncFacetOf } from '../core/store.js';

// One real PostgreSQL for this file, started before any suite runs.
let server!: RunningPostgres;
const started = startPostgres().then((s) => (server = s));
after(async () => {
  await started.catch(() => {});
  await server?.destroy();
});

describeStore('PostgresStore', {
  async setup(logger) {
    await started;
    const pool = new pg.Pool({ connectionString: server.url, max: 5 });
    // A second pool: what another app server sees.
    const peerPool = new pg.Pool({ connectionString: server.url, max: 5 });
    // pool.end() resolves before its sockets are closed: when the server stops after this file,
    // a last socket may report the shutdown to a pool that no store listens to any more.
    for (const p of [pool, peerPool]) p.on('error', () => {});
    const store = new PostgresStore({ pool, logger });
    const peer = new PostgresStore({ pool: peerPool, logger });
    await store.stats(); // creates the table
    return {
      store,
      peer,
      corrupt: async (key) => {
        await pool.query('UPDATE sessionkit_sessions SET data = $1 WHERE key_hash = $2', ['{not json', digestKey(key)]);
      },
      dumpAtRest: async () => JSON.stringify((await pool.query('SELECT * FROM sessionkit_sessions')).rows),
      close: async () => {
        await pool.end();
        await peerPool.end();
      },
    };
  },
});

describe('PostgresStore specifics', () => {
  let pool!: pg.Pool;
  before(async () => {
    await started;
    pool = new pg.Pool({ connectionString: server.url, max: 3 });
    // The tests' stores stop listening when they close; the pool's last connections may still be
    // closing when the server is stopped after this suite, and report its shutdown to the pool.
    pool.on('error', () => {});
  });
  after(async () => {
    await pool?.end();
  });

  it('creates its table with a primary key and an index on expiry, once, before the first query', async () => {
    const store = new PostgresStore({ pool, table: 'lazy_made' });
    const before = await pool.query("SELECT to_regclass('lazy_made') AS t");
    assert.equal(before.rows[0].t, null, 'nothing is created in the constructor');
    await store.create({ key: newSessionKey(), data: { a: 1 }, expiresAt: Date.now() + 60_000 });
    const idx = await pool.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'lazy_made'");
    const defs = idx.rows.map((r) => r.indexdef as string);
    assert.ok(
      defs.some((d) => /UNIQUE.*\(key_hash\)/.test(d)),
      `primary key on key_hash: ${defs}`,
    );
    assert.ok(
      defs.some((d) => /\(expires_at\)/.test(d)),
      `index on expires_at: ${defs}`,
    );
    await store.close();
  });

  it('schemaSql is the migration for a schema-qualified table; createTable: false leaves the schema alone', async () => {
    await pool.query('CREATE SCHEMA IF NOT EXISTS app');
    const sql = PostgresStore.schemaSql('app.web_sessions');
    assert.match(sql, /CREATE TABLE IF NOT EXISTS "app"\."web_sessions"/);
    assert.match(sql, /CREATE INDEX IF NOT EXISTS "web_sessions_expires_at" ON "app"\."web_sessions" \(expires_at\)/);
    const store = new PostgresStore({ pool, table: 'app.web_sessions', createTable: false });
    await assert.rejects(
      store.load(newSessionKey()),
      (err: unknown) => err instanceof StoreUnavailableError && /schemaSql/.test(err.message),
    );
    await pool.query(sql);
    await pool.query(sql); // idempotent
    const key = newSessionKey();
    const v = await store.create({ key, data: { a: 1 }, expiresAt: Date.now() + 60_000 });
    assert.equal(v, 1);
    assert.deepEqual((await store.load(key))!.data, { a: 1 });
    await store.close();
  });

  it('has no synchronous facet (pg answers only asynchronously), so the engine awaits load and update', () => {
    const store = new PostgresStore({ pool });
    assert.equal(syncFacetOf(store), undefined);
    assert.equal(store.capabilities.synchronous, false);
  });

  it('rejects a table name that is not an SQL identifier, and a missing pool', () => {
    for (const table of ['x; DROP TABLE y', 'a.b.c', '1abc', '', 'a-b', '"quoted"']) {
      assert.throws(() => new PostgresStore({ pool, table }), ConfigError, table);
    }
    assert.throws(
      () => new PostgresStore({} as any),
      (err: unknown) => err instanceof ConfigError && err.option === 'pool',
    );
    assert.throws(() => new PostgresStore({ pool, timeout: 0 }), ConfigError);
  });

  it('create is create-only even for an expired record: the primary key is a real constraint', async () => {
    const store = new PostgresStore({ pool });
    const key = newSessionKey();
    const now = Date.now();
    assert.equal(await store.create({ key, data: { a: 1 }, expiresAt: now - 1000, now }), 1);
    assert.equal(await store.create({ key, data: { a: 2 }, expiresAt: now + 60_000, now }), null);
    await assert.rejects(pool.query('INSERT INTO sessionkit_sessions VALUES ($1, $2, 0, 1)', [digestKey(key), '{}']), /duplicate key/);
    await store.close();
  });

  it('expiry is compared with the injected clock, not the database clock', async () => {
    const store = new PostgresStore({ pool });
    const key = newSessionKey();
    const past = Date.UTC(2001, 0, 1);
    await store.create({ key, data: { a: 1 }, expiresAt: past + 10_000, now: past });
    assert.deepEqual((await store.load(key, past))!.data, { a: 1 });
    assert.equal(await store.load(key, past + 10_000), null);
    assert.equal((await store.update({ key, data: { a: 2 }, expiresAt: past + 20_000, expectedVersion: 1, now: past })).status, 'ok');
    assert.equal(
      (await store.update({ key, data: { a: 3 }, expiresAt: past + 20_000, expectedVersion: 2, now: past + 20_000 })).status,
      'missing',
    );
    await store.close();
  });

  it('clearExpired deletes the expired rows and says how many; stats counts rows, expired rows and bytes', async () => {
    const table = 'stats_sessions';
    const store = new PostgresStore({ pool, table });
    const now = Date.now();
    await store.create({ key: newSessionKey(), data: { a: 'xy' }, expiresAt: now + 60_000, now });
    await store.create({ key: newSessionKey(), data: { b: 1 }, expiresAt: now - 1, now });
    await store.create({ key: newSessionKey(), data: { c: 1 }, expiresAt: now, now });
    assert.deepEqual(await store.stats(now), { count: 3, expired: 2, bytes: '{"a":"xy"}'.length + '{"b":1}'.length + '{"c":1}'.length });
    assert.equal(await store.clearExpired(now), 2);
    assert.deepEqual(await store.stats(now), { count: 1, expired: 0, bytes: '{"a":"xy"}'.length });
    await store.close();
  });

  it('close() leaves a pool the user passed open, and stops listening to it', async () => {
    const own = new pg.Pool({ connectionString: server.url, max: 1 });
    const store = new PostgresStore({ pool: own });
    assert.equal(own.listenerCount('error'), 1, 'the store listens for idle connection errors');
    await store.stats();
    await store.close();
    assert.equal(own.listenerCount('error'), 0);
    assert.equal((await own.query('SELECT 1 AS one')).rows[0].one, 1, 'the pool still works');
    await assert.rejects(store.load(newSessionKey()), StoreUnavailableError);
    await own.end();
  });

  it('a SQL failure is StoreUnavailableError with the driver error as cause', async () => {
    const store = new PostgresStore({ pool, table: 'broken_sessions' });
    await store.stats();
    await pool.query('ALTER TABLE broken_sessions DROP COLUMN version');
    await assert.rejects(
      store.load(newSessionKey()),
      (err: unknown) =>
        err instanceof StoreUnavailableError && err.code === 'STORE_UNAVAILABLE' && (err.cause as { code?: string })?.code === '42703',
    );
    await store.close();
  });

  it('a corrupt row is logged with its store name and keeps its version for the next save', async () => {
    const logger = recordingLogger();
    const store = new PostgresStore({ pool, logger });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    await pool.query("UPDATE sessionkit_sessions SET data = '[1,2' , version = 7 WHERE key_hash = $1", [digestKey(key)]);
    const found = await store.load(key, now);
    assert.deepEqual(found, { data: {}, expiresAt: now + 60_000, version: 7, lastSeenAt: now });
    assert.ok(logger.records.some((r) => r.level === 'warn' && /corrupt/.test(r.message)));
    assert.deepEqual(await store.update({ key, data: { b: 2 }, expiresAt: now + 60_000, expectedVersion: 7, now }), {
      status: 'ok',
      version: 8,
    });
    await store.close();
  });
});
