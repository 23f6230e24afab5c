import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startPostgres, type RunningPostgres } from '../../test/support/postgres.js';
import { makeSessions } from '../core/sessions.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { describeStore } from '../testing/store-suite.js';
import { CachedStore } from './cached.js';
import { MemoryStore } from './memory.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'sessionkit-cached-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describeStore('CachedStore (MemoryStore cache, SqliteStore durable)', {
  setup(logger) {
    const path = join(dir, 'sessions.sqlite3');
    const cache = new MemoryStore({ logger }); // shared by both processes, as a Redis would be
    const store = new CachedStore({ cache, store: new SqliteStore({ path, logger }), logger });
    const peer = new CachedStore({ cache, store: new SqliteStore({ path, logger }), logger });
    const raw = new Database(path);
    return {
      store,
      peer,
      corrupt: async (key) => {
        raw.prepare('UPDATE sessionkit_sessions SET data = ? WHERE key_hash = ?').run('\u0000garbage', digestKey(key));
        cache.putRaw(key, '{garbage', Date.now() + 3600_000);
      },
      dumpAtRest: async () => JSON.stringify(raw.prepare('SELECT * FROM sessionkit_sessions').all()) + JSON.stringify(await cache.stats()),
      close: async () => {
        raw.close();
      },
    };
  },
});

let server: RunningPostgres | undefined;
after(async () => {
  await server?.destroy();
});

describeStore('CachedStore (MemoryStore cache, PostgresStore durable)', {
  async setup(logger) {
    server = await startPostgres();
    const pool = new pg.Pool({ connectionString: server.url, max: 5 });
    const peerPool = new pg.Pool({ connectionString: server.url, max: 5 });
    const cache = new MemoryStore({ logger });
    const store = new CachedStore({ cache, store: new PostgresStore({ pool, logger }), logger });
    const peer = new CachedStore({ cache, store: new PostgresStore({ pool: peerPool, logger }), logger });
    await store.stats();
    return {
      store,
      peer,
      corrupt: async (key) => {
        await pool.query('UPDATE sessionkit_sessions SET data = $1 WHERE key_hash = $2', ['{not json', digestKey(key)]);
        await cache.delete(key);
      },
      dumpAtRest: async () => JSON.stringify((await pool.query('SELECT * FROM sessionkit_sessions')).rows),
      close: async () => {
        await pool.end();
        await peerPool.end();
      },
    };
  },
});

import { settle, setup } from '../../test/support/cached-setup.js';

describe('CachedStore specifics', () => {
  it('a cache that fails on every write: saves still succeed, reload from the durable store, and the failure is logged', async () => {
    const { logger, cache, durable, sessions, save } = setup();
    cache.failWrites = true;
    const cookie = await save(undefined, { a: 1 });
    const again = await save(cookie, { b: 2 });
    assert.equal(again, cookie);
    assert.ok(
      logger.records.some((r) => /cache failed on write/.test(r.message)),
      'the cache failure is logged',
    );
    const before = durable.loads;
    assert.deepEqual(Object.fromEntries((await sessions.load(cookie)).entries()), { a: 1, b: 2 });
    assert.ok(durable.loads > before, 'read from the durable store');
  });

  it('a cache that fails on reads counts as a miss, logged', async () => {
    const { logger, cache, sessions, save } = setup();
    const cookie = await save(undefined, { a: 1 });
    cache.failReads = true;
    assert.equal((await sessions.load(cookie)).get('a'), 1);
    assert.ok(logger.records.some((r) => /cache failed on load/.test(r.message)));
  });

  it('a cache miss falls back to the durable store and refills the cache with the durable version', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await durable.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now }); // written by a process without the cache
    await durable.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now });
    const first = await store.load(key, now);
    assert.deepEqual(first, { data: { a: 2 }, expiresAt: now + 60_000, version: 2, lastSeenAt: now });
    const loadsAfterMiss = durable.loads;
    assert.deepEqual(await store.load(key, now), first, 'served from the cache, same version');
    assert.equal(durable.loads, loadsAfterMiss, 'the second load does not load from the durable store (it only looks the key up)');
    assert.deepEqual((await cache.inner.load(key, now))!.data, { v: 2, d: { a: 2 } });
  });

  it('reads are served by the cache once it holds the session', async () => {
    const { durable, sessions, save } = setup();
    const cookie = await save(undefined, { a: 1 });
    const before = durable.loads;
    for (let i = 0; i < 5; i++) assert.equal((await sessions.load(cookie)).get('a'), 1);
    assert.equal(durable.loads, before);
  });

  it('a stale cache entry never hides a newer durable version, and loses no update', async () => {
    const { clock, cache, durable, sessions, save } = setup();
    const cookie = await save(undefined, { a: 1 });
    // The cache refuses writes (and deletes) while b is saved: it still holds {a: 1}.
    cache.failWrites = true;
    await save(cookie, { b: 2 });
    cache.failWrites = false;
    assert.deepEqual((await cache.inner.load(cookie.split('=')[1]!))!.data, { v: 1, d: { a: 1 } }, 'the cache is stale');
    assert.deepEqual(
      Object.fromEntries((await sessions.load(cookie)).entries()),
      { a: 1, b: 2 },
      'this process reads past the stale entry',
    );
    await save(cookie, { c: 3 });
    assert.deepEqual(Object.fromEntries((await sessions.load(cookie)).entries()), { a: 1, b: 2, c: 3 });
    // The failed cache is left alone for a second; then a probe finds it answering again.
    clock.advance(1000);
    await sessions.load(cookie);
    await settle();
    await sessions.load(cookie); // corrects the cache entry this process could not write
    const before = durable.loads;
    await sessions.load(cookie);
    assert.equal(durable.loads, before, 'the cache is trusted again once corrected');
  });

  it('a slow refill of an older version does not overwrite a newer cache entry', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    await cache.inner.delete(key); // a miss: the next load refills
    const load = durable.load.bind(durable);
    let raced = false;
    durable.load = async (...args) => {
      const found = await load(...args);
      if (!raced) {
        raced = true; // a parallel request writes v2 (and caches it) before this refill lands
        assert.equal((await store.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now })).status, 'ok');
      }
      return found;
    };
    assert.equal((await store.load(key, now))!.version, 1, 'the slow reader got v1');
    assert.deepEqual((await cache.inner.load(key, now))!.data, { v: 2, d: { a: 2 } }, 'the cache kept v2');
    assert.deepEqual((await store.load(key, now))!.data, { a: 2 });
  });

  it('another process that read a stale cached version: its write conflicts, reloads from the durable store and keeps both changes', async () => {
    const { logger, cache, durable } = setup();
    const key = newSessionKey();
    const now = Date.now();
    const stale = new CachedStore({ cache, store: durable, logger });
    await stale.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now }); // cache and durable at v1
    await durable.update({ key, data: { a: 1, b: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now }); // durable v2 behind the cache's back
    const sessions = makeSessions<Record<string, any>>({ store: stale, logger, clock: () => now }, () => {
      throw new Error('unreachable');
    });
    const s = await sessions.load(`sessionid=${key}`);
    assert.equal(s.has('b'), false, 'read v1 from the cache');
    s.set('c', 3);
    await sessions.commit(s);
    assert.deepEqual((await durable.load(key, now))!.data, { a: 1, b: 2, c: 3 });
    assert.deepEqual((await stale.load(key, now))!.data, { a: 1, b: 2, c: 3 });
  });

  it('a logout that races a write: the write does not put the deleted session back in the cache', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    // The durable update succeeds, then a logout deletes everywhere before the cache write lands.
    const update = durable.update.bind(durable);
    durable.update = async (...args) => {
      const r = await update(...args);
      await durable.delete(key);
      await cache.delete(key);
      return r;
    };
    assert.equal((await store.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now })).status, 'ok');
    assert.equal(await cache.inner.load(key, now), null, 'the cache does not hold the deleted session');
    assert.equal(await store.load(key, now), null);
  });

  it('delete removes the session from the durable store and leaves a tombstone in the cache until the session would have expired', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    await store.delete(key);
    assert.equal(await durable.exists(key), false);
    const held = await cache.inner.load(key, now);
    assert.deepEqual(held?.data, { deleted: true }, 'the cache holds a tombstone, not the session');
    assert.equal(held?.expiresAt, now + 60_000);
    const loads = durable.loads;
    assert.equal(await store.load(key, now), null);
    assert.equal(durable.loads, loads, 'a tombstone answers without the durable store');
  });

  it('a key made again after its logout is served: the tombstone does not outlive a new durable record', async () => {
    const { logger, cache, durable, store } = setup();
    const other = new CachedStore({ cache, store: durable, logger });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    await store.delete(key);
    assert.deepEqual((await cache.inner.load(key, now))?.data, { deleted: true });
    assert.equal(await other.create({ key, data: { a: 2 }, expiresAt: now + 60_000, now }), 1);
    assert.deepEqual((await store.load(key, now))?.data, { a: 2 });
    assert.deepEqual((await other.load(key, now))?.data, { a: 2 });
  });

  it('a durable store that fails fails the load, even when the cache holds the session: nothing says it still exists', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    durable.failReads = true;
    await assert.rejects(store.load(key, now), StoreUnavailableError);
    durable.failReads = false;
    assert.ok(await cache.inner.load(key, now), 'the cache held it');
    assert.deepEqual((await store.load(key, now))?.data, { a: 1 });
  });

  it('a garbage cache entry is a miss and is replaced', async () => {
    const { logger, cache, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    await cache.inner.update({
      key,
      data: { something: 'else' },
      expiresAt: now + 60_000,
      expectedVersion: (await cache.inner.load(key, now))!.version,
      now,
    });
    assert.deepEqual((await store.load(key, now))!.data, { a: 1 });
    assert.ok(logger.records.some((r) => /not one CachedStore wrote/.test(r.message)));
    assert.deepEqual((await cache.inner.load(key, now))!.data, { v: 1, d: { a: 1 } });
  });

  it('an expired session is not served by the cache', async () => {
    const { store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 1000, now });
    assert.ok(await store.load(key, now));
    assert.equal(await store.load(key, now + 1000), null);
  });

  it('clearExpired counts the durable store and clears the cache too; a failing cache is logged', async () => {
    const { logger, cache, store } = setup();
    const now = Date.now();
    await store.create({ key: newSessionKey(), data: { a: 1 }, expiresAt: now - 1, now });
    await store.create({ key: newSessionKey(), data: { a: 1 }, expiresAt: now + 60_000, now });
    assert.equal(await store.clearExpired(now), 1);
    assert.equal((await cache.inner.stats(now)).expired, 0);
    await store.create({ key: newSessionKey(), data: { a: 1 }, expiresAt: now - 1, now });
    cache.failWrites = true;
    assert.equal(await store.clearExpired(now), 1);
    assert.ok(logger.records.some((r) => /cache failed on clearExpired/.test(r.message)));
  });

  it('rejects options that are not two stores', () => {
    const m = new MemoryStore();
    assert.throws(() => new CachedStore({ cache: m, store: m }), ConfigError);
    assert.throws(
      () => new CachedStore({ cache: m } as any),
      (e: unknown) => e instanceof ConfigError && e.option === 'store',
    );
    assert.throws(
      () => new CachedStore({ store: m } as any),
      (e: unknown) => e instanceof ConfigError && e.option === 'cache',
    );
  });
});
