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
import { describeStore, recordingLogger } from '../testing/store-suite.js';
import { CachedStore } from './cached.js';
import { MemoryStore } from './memory.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { SessionStore, StoreCreate, StoredSession, StoreStats, StoreUpdate, UpdateResult } from '../core/store.js';

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

/** A cache that can be made to fail on reads and/or writes, and counts calls. */
class FlakyStore implements SessionStore {
  failReads = false;
  failWrites = false;
  loads = 0;
  /** Every call, answered or failed. */
  calls = 0;
  constructor(readonly inner: SessionStore) {}
  #check(kind: 'read' | 'write'): void {
    this.calls++;
    if (kind === 'read' ? this.failReads : this.failWrites) throw new StoreUnavailableError(`flaky ${kind}`);
  }
  async load(key: string, now?: number): Promise<StoredSession | null> {
    this.#check('read');
    this.loads++;
    return this.inner.load(key, now);
  }
  async create(write: StoreCreate): Promise<number | null> {
    this.#check('write');
    return this.inner.create(write);
  }
  async update(write: StoreUpdate): Promise<UpdateResult> {
    this.#check('write');
    return this.inner.update(write);
  }
  async delete(key: string): Promise<void> {
    this.#check('write');
    return this.inner.delete(key);
  }
  async exists(key: string): Promise<boolean> {
    this.#check('read');
    return this.inner.exists(key);
  }
  async clearExpired(now?: number): Promise<number> {
    this.#check('write');
    return this.inner.clearExpired(now);
  }
  async stats(now?: number): Promise<StoreStats> {
    return this.inner.stats(now);
  }
  async revoke(id: string): Promise<boolean> {
    this.#check('write');
    return this.inner.revoke!(id);
  }
  async touch(key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#check('write');
    return this.inner.touch!(key, expiresAt, now);
  }
  async listByUser(userId: string, now: number) {
    this.#check('read');
    return this.inner.listByUser!(userId, now);
  }
  async close(): Promise<void> {}
}

/** A clock the test moves by hand: the breaker's retries and log lines are timed by it. */
function manualClock(start = 1_700_000_000_000) {
  let t = start;
  const clock = () => t;
  clock.advance = (ms: number) => {
    t += ms;
  };
  return clock;
}

/** Lets a probe the breaker started in the background settle (the test stores answer within a few turns). */
const settle = () => new Promise<void>((r) => setImmediate(r));

function setup() {
  const logger = recordingLogger();
  const clock = manualClock();
  const cache = new FlakyStore(new MemoryStore({ logger }));
  const durable = new FlakyStore(new MemoryStore({ logger }));
  const store = new CachedStore({ cache, store: durable, logger, clock });
  const sessions = makeSessions<Record<string, any>>({ store, logger }, () => {
    throw new Error('unreachable');
  });
  const save = async (cookie: string | undefined, fill: Record<string, unknown>) => {
    const s = await sessions.load(cookie);
    s.update(fill);
    return (await sessions.commit(s))!.split(';')[0]!;
  };
  return { logger, clock, cache, durable, store, sessions, save };
}

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

  it('a logout while the cache fails: the durable delete answers, and no process serves the session once the cache is back', async () => {
    const { logger, clock, cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    cache.failWrites = true;
    await store.delete(key); // answers: the logout is in force
    assert.equal(await durable.exists(key), false, 'the durable record is gone');
    assert.deepEqual((await cache.inner.load(key, now))?.data, { v: 1, d: { a: 1 } }, 'the cache could not drop its entry');
    // The cache comes back, still holding the entry.
    cache.failWrites = false;
    clock.advance(1000);
    assert.equal(await store.load(key, now), null);
    await settle(); // the probe closed the breaker: the next load asks the cache again
    const cacheLoads = cache.loads;
    assert.equal(await store.load(key, now), null, 'this process does not serve it from the cache');
    assert.ok(cache.loads > cacheLoads, 'the cache was asked');
    const other = new CachedStore({ cache, store: durable, logger }); // another process, never saw the failure
    assert.equal(await other.load(key, now), null, 'nor does any other process');
  });

  it('a logout the durable store fails is StoreUnavailableError and applies nothing: the session is whole, a retry logs out', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    durable.failWrites = true;
    await assert.rejects(store.delete(key), StoreUnavailableError);
    assert.equal(await durable.exists(key), true, 'the durable record is still there');
    assert.deepEqual((await cache.inner.load(key, now))?.data, { v: 1, d: { a: 1 } }, 'the cache entry is untouched');
    assert.deepEqual((await store.load(key, now))?.data, { a: 1 });
    durable.failWrites = false;
    await store.delete(key);
    assert.equal(await durable.exists(key), false);
    assert.equal(await store.load(key, now), null);
  });

  it('a refill in flight when a logout lands does not bring the session back, in no process', async () => {
    const { logger, cache, durable, store } = setup();
    const other = new CachedStore({ cache, store: durable, logger }); // another process, same cache and durable store
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    await cache.inner.delete(key); // a miss: the next load reads the durable store and refills
    const load = durable.load.bind(durable);
    let raced = false;
    durable.load = async (...args) => {
      const found = await load(...args);
      if (!raced && found) {
        raced = true; // the other process logs out between this durable read and its refill
        await other.delete(key);
      }
      return found;
    };
    await store.load(key, now);
    assert.deepEqual((await cache.inner.load(key, now))?.data, { deleted: true }, 'the refill did not overwrite the tombstone');
    assert.equal(await store.load(key, now), null);
    assert.equal(await other.load(key, now), null);
  });

  it('a cache entry that must be dropped is dropped by compare-and-set, so a tombstone written meanwhile stays', async () => {
    const { logger, cache, durable, store } = setup();
    const other = new CachedStore({ cache, store: durable, logger });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    await durable.update({ key, data: { a: 1, b: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now }); // the cache is now stale (v1)
    // This process's stale write conflicts and drops the cache entry; the other process's logout
    // lands between that drop's read and its write.
    const cacheUpdate = cache.update.bind(cache);
    let raced = false;
    cache.update = async (...args) => {
      if (!raced && args[0].expiresAt === 0) {
        raced = true;
        cache.update = cacheUpdate;
        await other.delete(key);
      }
      return cacheUpdate(...args);
    };
    assert.deepEqual(await store.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now }), { status: 'conflict' });
    assert.ok(raced, 'the drop was a conditional write');
    assert.deepEqual((await cache.inner.load(key, now))?.data, { deleted: true }, 'the tombstone stayed');
    assert.equal(await store.load(key, now), null);
  });

  it('a revoke while the cache fails: true, and no process serves the session once the cache is back', async () => {
    const { logger, clock, cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    cache.failWrites = true;
    assert.equal(await store.revoke(digestKey(key)), true);
    assert.equal(await durable.exists(key), false);
    assert.ok(await cache.inner.load(key, now), 'the cache could not drop its entry');
    cache.failWrites = false;
    clock.advance(1000);
    await store.load(key, now);
    await settle();
    assert.equal(await store.load(key, now), null);
    assert.equal(await new CachedStore({ cache, store: durable, logger }).load(key, now), null);
  });

  it('a revoke the durable store fails is StoreUnavailableError and revokes nothing', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    durable.failWrites = true;
    await assert.rejects(store.revoke(digestKey(key)), StoreUnavailableError);
    assert.equal(await durable.exists(key), true);
    assert.deepEqual((await cache.inner.load(key, now))?.data, { v: 1, d: { a: 1 } });
    assert.deepEqual((await store.load(key, now))?.data, { a: 1 });
  });

  it('an update the durable store fails is StoreUnavailableError and changes nothing, in the cache either', async () => {
    const { cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    durable.failWrites = true;
    await assert.rejects(store.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now }), StoreUnavailableError);
    await assert.rejects(store.create({ key: newSessionKey(), data: { a: 2 }, expiresAt: now + 60_000, now }), StoreUnavailableError);
    durable.failWrites = false;
    assert.deepEqual(await durable.inner.load(key, now), { data: { a: 1 }, expiresAt: now + 60_000, version: 1, lastSeenAt: now });
    assert.deepEqual((await cache.inner.load(key, now))?.data, { v: 1, d: { a: 1 } });
    assert.equal((await durable.inner.stats(now)).count, 1, 'no record was created');
  });

  it('a cache restored from a snapshot taken before a logout and a revoke serves neither session, in no process', async () => {
    const { logger, cache, durable, store } = setup();
    const other = new CachedStore({ cache, store: durable, logger });
    const now = Date.now();
    const [out, revoked, kept] = [newSessionKey(), newSessionKey(), newSessionKey()];
    for (const key of [out, revoked, kept]) await store.create({ key, data: { user: key }, expiresAt: now + 60_000, now });
    const snapshot = new Map<string, StoredSession>();
    for (const key of [out, revoked, kept]) snapshot.set(key, (await cache.inner.load(key, now))!);
    await store.delete(out);
    assert.equal(await store.revoke(digestKey(revoked)), true);
    assert.equal(await other.load(out, now), null);
    // The cache is put back as it was before (its entries, not the tombstone).
    for (const [key, held] of snapshot) {
      await cache.inner.delete(key);
      assert.notEqual(await cache.inner.create({ key, data: held.data, expiresAt: held.expiresAt, now }), null);
    }
    const loads = durable.loads;
    for (const s of [store, other, new CachedStore({ cache, store: durable, logger })]) {
      assert.equal(await s.load(out, now), null, 'the logged-out session');
      assert.equal(await s.load(revoked, now), null, 'the revoked session');
      assert.deepEqual((await s.load(kept, now))?.data, { user: kept }, 'the other session is served');
    }
    assert.equal(durable.loads, loads, 'all three were answered from the cache and the durable key lookup');
  });

  it('a failed cache is not asked again for a second: one probe then, in the background; its success reopens the cache', async () => {
    const { clock, cache, durable, store } = setup();
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    cache.failReads = true;
    assert.deepEqual((await store.load(key, now))?.data, { a: 1 }, 'served from the durable store');
    const calls = cache.calls;
    const durableLoads = durable.loads;
    for (let i = 0; i < 50; i++) assert.deepEqual((await store.load(key, now))?.data, { a: 1 });
    assert.equal(await store.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now }).then((r) => r.status), 'ok');
    await store.touch(key, now + 90_000, now);
    await store.clearExpired(now);
    clock.advance(999);
    assert.deepEqual((await store.load(key, now))?.data, { a: 2 });
    assert.equal(cache.calls, calls, 'the cache was not asked for 999 ms');
    assert.equal(durable.loads, durableLoads + 51, 'every load was served by the durable store');
    clock.advance(1);
    await Promise.all(Array.from({ length: 20 }, () => store.load(key, now)));
    assert.equal(cache.calls, calls + 1, 'one probe, however many requests came');
    await settle();
    clock.advance(999);
    await store.load(key, now);
    assert.equal(cache.calls, calls + 1, 'the failed probe keeps the cache off for another second');
    cache.failReads = false;
    clock.advance(1);
    const answered = await store.load(key, now); // starts the probe, does not wait for it
    assert.deepEqual(answered?.data, { a: 2 });
    assert.equal(cache.calls, calls + 2);
    await settle();
    await store.load(key, now); // the probe succeeded: this one refills the cache (the key was written meanwhile)
    const before = durable.loads;
    assert.deepEqual((await store.load(key, now))?.data, { a: 2 });
    assert.equal(durable.loads, before, 'served from the cache again');
  });

  it('cache failures are logged at most once a second, with how many were held back', async () => {
    const { logger, clock, cache, store } = setup();
    const keys = Array.from({ length: 10 }, () => newSessionKey());
    const now = Date.now();
    for (const key of keys) await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    const failures = () => logger.records.filter((r) => /session cache failed/.test(r.message));
    cache.failReads = true;
    await Promise.all(keys.map((key) => store.load(key, now))); // ten failures at once
    for (let i = 0; i < 100; i++) await store.load(keys[i % 10]!, now);
    assert.equal(failures().length, 1, 'one line for the first second');
    clock.advance(1000);
    await store.load(keys[0]!, now); // the probe fails
    await settle();
    assert.equal(failures().length, 2);
    assert.equal(failures()[1]!.details?.suppressed, 9, 'the nine failures held back are counted');
    clock.advance(500);
    await store.load(keys[0]!, now);
    await settle();
    clock.advance(500);
    await store.load(keys[0]!, now); // another probe, a second after the last one: logged
    await settle();
    assert.equal(failures().length, 3);
    cache.failReads = false;
    clock.advance(1000);
    await store.load(keys[0]!, now);
    await settle();
    assert.ok(logger.records.some((r) => /session cache answers again/.test(r.message)));
  });

  it('a failure releases at once every call still waiting on the cache: they are served from the durable store', async () => {
    const { logger, clock, cache, durable } = setup();
    const store = new CachedStore({ cache, store: durable, logger, clock });
    const [slow, failing] = [newSessionKey(), newSessionKey()];
    const now = Date.now();
    await store.create({ key: slow, data: { a: 'slow' }, expiresAt: now + 60_000, now });
    await store.create({ key: failing, data: { a: 'failing' }, expiresAt: now + 60_000, now });
    const load = cache.load.bind(cache);
    let hung = 0;
    cache.load = (key: string, at?: number) => {
      if (key === slow) {
        hung++;
        return new Promise(() => {}); // a frozen cache: never answers
      }
      if (key === failing) return Promise.reject(new StoreUnavailableError('cache timed out'));
      return load(key, at);
    };
    const waiting = store.load(slow, now);
    await settle();
    assert.equal(hung, 1, 'the load is waiting on the cache');
    assert.deepEqual((await store.load(failing, now))?.data, { a: 'failing' });
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the load still waits on the frozen cache')), 2000);
    });
    try {
      assert.deepEqual(
        ((await Promise.race([waiting, stuck])) as StoredSession | null)?.data,
        { a: 'slow' },
        'released when the other call failed',
      );
    } finally {
      clearTimeout(timer);
    }
    assert.equal(hung, 1);
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
