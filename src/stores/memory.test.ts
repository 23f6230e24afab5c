import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadForRequest } from '../core/sessions.js';
import { createSessions, type Session } from '../index.js';
import { describeStore } from '../testing/store-suite.js';
import { MemoryStore } from './memory.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { SYNC, syncFacetOf } from '../core/store.js';
import { META_KEY } from '../core/accounts.js';

describeStore('MemoryStore', {
  synchronous: true,
  setup(logger) {
    const store = new MemoryStore({ logger });
    return {
      store,
      corrupt: async (key) => store.putRaw(key, '{not json', Date.now() + 3600_000),
    };
  },
});

describe('MemoryStore eviction', () => {
  const t0 = 1_700_000_000_000;
  const HOUR = 3600_000;

  it('expired sessions are evicted by later writes, without anyone calling clearExpired', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 2000; i++) await store.create({ key: `old-${i}`, data: { n: i }, expiresAt: t0 + HOUR, now: t0 });
    // two hours later, the next 2000 visitors' writes evict every session that expired meanwhile
    for (let i = 0; i < 2000; i++) await store.create({ key: `new-${i}`, data: { n: i }, expiresAt: t0 + 3 * HOUR, now: t0 + 2 * HOUR });
    const { count, expired } = await store.stats(t0 + 2 * HOUR);
    assert.deepEqual({ count, expired }, { count: 2000, expired: 0 });
    assert.equal(await store.exists('old-0'), false);
    assert.equal((await store.load('new-1999', t0 + 2 * HOUR))?.data.n, 1999);
  });

  it('a store whose sessions keep expiring stays bounded by the live ones', async () => {
    const store = new MemoryStore();
    let now = t0;
    const sizes: number[] = [];
    for (let generation = 0; generation < 50; generation++, now += HOUR) {
      // 500 new visitors an hour, each session living 30 minutes; updates sweep too
      for (let i = 0; i < 500; i++) {
        const key = `g${generation}-${i}`;
        const version = await store.create({ key, data: { i }, expiresAt: now + HOUR / 2, now });
        await store.update({ key, data: { i, again: true }, expiresAt: now + HOUR / 2, expectedVersion: version!, now });
      }
      sizes.push((await store.stats(now)).count);
    }
    // never more than the eviction threshold plus one hour's sessions, however long it runs
    assert.ok(Math.max(...sizes) <= 1500, `rows per hour: ${sizes.join(' ')}`);
  });
});

describe('MemoryStore clearExpired', () => {
  it('yields to the event loop between batches, and removes every expired row', async () => {
    const store = new MemoryStore();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 25_000; i++) await store.create({ key: `k${i}`, data: { i }, expiresAt: t0 + 1000, now: t0 - 1 });
    await store.create({ key: 'live', data: { i: -1 }, expiresAt: t0 + 3600_000, now: t0 });
    let turns = 0;
    const turn = () => {
      turns++;
      if (turns < 1000) setImmediate(turn);
    };
    setImmediate(turn);
    const removed = await store.clearExpired(t0 + 2000);
    const during = turns;
    assert.equal(removed, 25_000);
    assert.ok(during >= 2, `the event loop turned ${during} times during clearExpired`);
    assert.equal((await store.stats(t0 + 2000)).count, 1);
  });
});

describe('MemoryStore synchronous facet', () => {
  it('is private: no loadSync or updateSync on the store, the facet reached only through syncFacetOf, also through a Proxy', async () => {
    const store = new MemoryStore();
    assert.equal('loadSync' in store, false);
    assert.equal('updateSync' in store, false);
    const facet = syncFacetOf(store);
    assert.ok(facet, 'the store has its synchronous facet');
    assert.equal(store.capabilities.synchronous, true);
    const bound = new Proxy(store, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    assert.equal(syncFacetOf(bound), facet, 'a Proxy around the store passes the facet on');
    assert.equal(syncFacetOf(new Proxy(store, {})), facet);
    const hidden = new Proxy(store, { get: (target, name) => (name === SYNC ? undefined : Reflect.get(target, name, target)) });
    assert.equal(syncFacetOf(hidden), undefined, 'and can hide it');
    // bound to the store: called on its own, it answers as load and update do
    const { load, update } = facet;
    const now = Date.now();
    const key = newSessionKey();
    assert.equal(load(key, now), null);
    const v1 = (await store.create({ key, data: { n: 1 }, expiresAt: now + 60_000, now }))!;
    assert.deepEqual(load(key, now), await store.load(key, now));
    assert.deepEqual(update({ key, data: { n: 2 }, expiresAt: now + 60_000, expectedVersion: v1 + 1, now }), { status: 'conflict' });
    assert.deepEqual(update({ key, data: { n: 2 }, expiresAt: now + 60_000, expectedVersion: v1, now }), { status: 'ok', version: v1 + 1 });
    assert.deepEqual((await store.load(key, now))?.data, { n: 2 });
  });

  it('is used by the engine only beside the very method it answers for: a subclass that replaces load is heard, its update still answers at once', async () => {
    let loads = 0;
    class HeardStore extends MemoryStore {
      override async load(key: string, now?: number) {
        loads++;
        return super.load(key, now);
      }
    }
    const sessions = createSessions({ store: new HeardStore() });
    const first = await sessions.load({ headers: {} });
    first.set('n', 1);
    const cookie = (await sessions.commit(first))!.split(';')[0]!;
    const loading = loadForRequest(sessions, { headers: { cookie } });
    assert.ok(loading instanceof Promise, 'the replaced load is awaited');
    const session = await loading;
    assert.equal(loads, 1);
    session.set('n', 2);
    assert.ok(!(sessions.commitResponse(session) instanceof Promise), 'the update still answered at once');
    assert.equal((await sessions.load({ headers: { cookie } })).get('n'), 2);
  });

  it('is none of the package entry points exports', async () => {
    for (const entry of [await import('../index.js'), await import('../public.js'), await import('../edge.js')]) {
      for (const name of ['SYNC', 'syncFacetOf', 'SyncFacet']) assert.equal(name in entry, false, name);
    }
  });
});

describe('MemoryStore on the request path', () => {
  it('a request with a session cookie loads and commits without a promise; a store without the synchronous facet still works through promises', async () => {
    const sessions = createSessions({ store: new MemoryStore() });
    const first = await sessions.load({ headers: {} });
    first.set('count', 1);
    const cookie = (await sessions.commit(first))!.split(';')[0]!;

    const session = loadForRequest(sessions, { headers: { cookie } });
    assert.ok(!(session instanceof Promise), 'load answered at once');
    session.set('count', session.get('count', 0) + 1);
    const result = sessions.commitResponse(session);
    assert.ok(!(result instanceof Promise), 'commit answered at once');
    assert.match(result.setCookie!, /^sessionid=/);
    assert.equal((await sessions.load({ headers: { cookie } })).get('count'), 2);

    // the same store seen only through the promise methods: the engine falls back to them
    const inner = new MemoryStore();
    const asyncOnly = {
      load: inner.load.bind(inner),
      create: inner.create.bind(inner),
      update: inner.update.bind(inner),
      delete: inner.delete.bind(inner),
      exists: inner.exists.bind(inner),
      clearExpired: inner.clearExpired.bind(inner),
      stats: inner.stats.bind(inner),
      close: inner.close.bind(inner),
    };
    const other = createSessions({ store: asyncOnly });
    const s0 = await other.load({ headers: {} });
    s0.set('count', 1);
    const c2 = (await other.commit(s0))!.split(';')[0]!;
    const loading = loadForRequest(other, { headers: { cookie: c2 } });
    assert.ok(loading instanceof Promise);
    const s1 = await loading;
    s1.set('count', 5);
    const committing = other.commitResponse(s1);
    assert.ok(committing instanceof Promise);
    await committing;
    assert.equal((await other.load({ headers: { cookie: c2 } })).get('count'), 5);
  });

  it('a conflicting synchronous update falls back to the merging commit', async () => {
    const store = new MemoryStore();
    const sessions = createSessions({ store });
    const s0 = await sessions.load({ headers: {} });
    s0.set('a', 1);
    const cookie = (await sessions.commit(s0))!.split(';')[0]!;
    const one = loadForRequest(sessions, { headers: { cookie } }) as Session;
    const two = loadForRequest(sessions, { headers: { cookie } }) as Session;
    one.set('b', 2);
    two.set('c', 3);
    assert.ok(!(sessions.commitResponse(one) instanceof Promise));
    // two loaded the version one replaced: its write conflicts, reloads, merges and retries
    const late = sessions.commitResponse(two);
    assert.ok(late instanceof Promise);
    await late;
    const merged = await sessions.load({ headers: { cookie } });
    assert.deepEqual([merged.get('a'), merged.get('b'), merged.get('c')], [1, 2, 3]);
  });

  it('revokes by public id a session nobody signed in to, and the signed-in ones after their user changed', async () => {
    const store = new MemoryStore();
    const now = Date.now();
    const until = now + 60_000;
    assert.equal(await store.create({ key: 'anonymous0000000000000000000000a', data: { n: 1 }, expiresAt: until, now }), 1);
    assert.equal(
      await store.create({
        key: 'signedin00000000000000000000000b',
        data: { [META_KEY]: { since: now, user: 'u1' } },
        expiresAt: until,
        now,
      }),
      1,
    );
    assert.deepEqual(
      await store.update({
        key: 'signedin00000000000000000000000b',
        data: { [META_KEY]: { since: now, user: 'u2' } },
        expiresAt: until,
        expectedVersion: 1,
        now,
      }),
      {
        status: 'ok',
        version: 2,
      },
    );
    assert.deepEqual((await store.listByUser('u1', now)).length, 0);
    const [listed] = await store.listByUser('u2', now);
    assert.equal(listed?.id, digestKey('signedin00000000000000000000000b'));
    assert.equal(await store.revoke(listed!.id), true);
    assert.equal(await store.exists('signedin00000000000000000000000b'), false);
    assert.equal(await store.revoke(digestKey('anonymous0000000000000000000000a')), true);
    assert.equal(await store.exists('anonymous0000000000000000000000a'), false);
    assert.equal(await store.revoke(digestKey('anonymous0000000000000000000000a')), false);
  });
});
