import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreUnavailableError } from '../core/errors.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { CachedStore } from './cached.js';
import type { StoredSession } from '../core/store.js';
import { setup, settle } from '../../test/support/cached-setup.js';

/** CachedStore when its cache or its durable store fails: logouts stay in force, the breaker, the logging. */
describe('CachedStore when a store fails', () => {
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
});
