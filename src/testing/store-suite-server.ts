// The store conformance suite: what every store that keeps sessions on the server does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionDataError, SessionInterruptedError } from '../core/errors.js';
import { MAX_DEPTH } from '../core/codec.js';
import { newSessionKey } from '../core/keys.js';

import type { SuiteContext } from './store-suite-context.js';

export function serverSideCases(x: SuiteContext): void {
  const records = { skip: x.options.clientSide ? 'the cookie store keeps no records on the server' : false };
  describe('server-side stores', records, () => {
    it('save makes a record; delete removes it', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no records');
      const key = x.keyOf(await x.saved((s) => s.set('x', 1)));
      assert.equal(await x.server().exists(key), true);
      await x.server().delete(key);
      assert.equal(await x.server().exists(key), false);
    });

    it('create and update take one write object: create is create-only, update a compare-and-set on expectedVersion', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no records');
      const store = x.server();
      const key = newSessionKey();
      const now = x.clock;
      const until = now + 60_000;
      const v1 = await store.create({ key, data: { n: 1 }, expiresAt: until, now, json: JSON.stringify({ n: 1 }) });
      assert.notEqual(v1, null, 'a new key is created');
      assert.equal(await store.create({ key, data: { n: 'again' }, expiresAt: until, now }), null, 'a taken key is refused');
      const wrong = v1! + 1000;
      const stale = await store.update({ key, data: { n: 'stale' }, expiresAt: until, expectedVersion: wrong, now: now + 10 });
      assert.deepEqual(stale, { status: 'conflict' }, 'a wrong expectedVersion is a conflict');
      assert.deepEqual((await store.load(key, now + 10))?.data, { n: 1 }, 'a conflict writes nothing');
      const ok = await store.update({
        key,
        data: { n: 2 },
        expiresAt: until,
        expectedVersion: v1!,
        now: now + 20,
        json: JSON.stringify({ n: 2 }),
      });
      assert.equal(ok.status, 'ok');
      const found = await store.load(key, now + 20);
      assert.deepEqual([found?.data, found?.expiresAt, found?.version], [{ n: 2 }, until, ok.status === 'ok' ? ok.version : null]);
      await store.delete(key);
      const gone = await store.update({ key, data: { n: 3 }, expiresAt: until, expectedVersion: found!.version, now: now + 30 });
      assert.deepEqual(gone, { status: 'missing' }, 'a deleted record is never brought back');
      assert.equal(await store.exists(key), false);
    });

    it('an unknown well-formed key is not adopted, and loading creates no record', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no records');
      const madeUp = newSessionKey();
      const s = await x.sessions.load(`sessionid=${madeUp}`);
      assert.equal(s.key, null);
      assert.equal(await x.server().exists(madeUp), false);
      s.set('x', 1);
      const key = x.keyOf(x.cookieOf(await x.sessions.commit(s)));
      assert.notEqual(key, madeUp);
      assert.equal(await x.server().exists(madeUp), false);
    });

    it('flush deletes the record and forgets the key', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no records');
      const cookie = await x.saved((s) => s.set('foo', 'bar'));
      const prev = x.keyOf(cookie);
      const s = await x.sessions.load(cookie);
      await s.flush();
      assert.equal(await x.server().exists(prev), false);
      assert.equal(s.key, null);
      assert.equal(s.modified, true);
      assert.equal(s.accessed, true);
      assert.equal(s.isEmpty, true);
      assert.match((await x.sessions.commit(s))!, /Max-Age=0/);
    });

    it('cycleKey keeps the data under a new key and deletes the old one', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('old cookies cannot be revoked');
      const cookie = await x.saved((s) => s.update({ a: 'c', b: 'd' }));
      const prev = x.keyOf(cookie);
      const s = await x.sessions.load(cookie); // nothing read yet: cycleKey works from what was loaded
      await s.cycleKey();
      assert.notEqual(s.key, prev);
      assert.equal(await x.server().exists(prev), false);
      assert.deepEqual(Object.fromEntries(s.entries()), { a: 'c', b: 'd' });
      const next = x.cookieOf(await x.sessions.commit(s));
      assert.equal(x.keyOf(next), s.key);
      assert.deepEqual(Object.fromEntries((await x.sessions.load(next)).entries()), { a: 'c', b: 'd' });
      assert.equal((await x.sessions.load(cookie)).has('a'), false);
    });

    it('corrupt stored data reads as an empty session, is logged, and is overwritten on the next save', async (ctx) => {
      if (!x.serverSide() || !x.t.corrupt) return ctx.skip('no way to corrupt this store');
      const cookie = await x.saved((s) => s.set('x', 1));
      await x.t.corrupt(x.keyOf(cookie));
      const before = x.logger.records.length;
      const s = await x.sessions.load(cookie);
      assert.deepEqual([...s.entries()], []);
      assert.equal(s.key, x.keyOf(cookie), 'the key of a found but corrupt record is kept');
      assert.ok(x.logger.records.length > before, 'the corruption is logged');
      s.set('y', 2);
      assert.equal(x.keyOf(x.cookieOf(await x.sessions.commit(s))), x.keyOf(cookie));
      assert.deepEqual(Object.fromEntries((await x.sessions.load(cookie)).entries()), { y: 2 });
    });

    it('a save does not bring back a session deleted elsewhere', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no records');
      const cookie = await x.saved((s) => s.set('key', 'value1'));
      const s1 = await x.sessions.load(cookie);
      await x.server().delete(x.keyOf(cookie));
      s1.set('key', 'value2');
      await assert.rejects(x.sessions.commit(s1), SessionInterruptedError);
      assert.equal((await x.sessions.load(cookie)).has('key'), false);
      assert.equal(await x.server().exists(x.keyOf(cookie)), false);
    });

    it('create is create-only and update is conditional on the version', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no records');
      const store = x.server();
      const key = newSessionKey();
      const until = x.clock + 60_000;
      const v1 = await store.create({ key, data: { a: 1 }, expiresAt: until, now: x.clock });
      assert.notEqual(v1, null);
      assert.equal(await store.create({ key, data: { a: 2 }, expiresAt: until, now: x.clock }), null);
      const r = await store.update({ key, data: { a: 3 }, expiresAt: until, expectedVersion: v1!, now: x.clock });
      assert.equal(r.status, 'ok');
      assert.deepEqual(await store.update({ key, data: { a: 4 }, expiresAt: until, expectedVersion: v1!, now: x.clock }), {
        status: 'conflict',
      });
      assert.deepEqual((await store.load(key, x.clock))!.data, { a: 3 });
      await store.delete(key);
      assert.deepEqual(await store.update({ key, data: { a: 5 }, expiresAt: until, expectedVersion: v1!, now: x.clock }), {
        status: 'missing',
      });
      assert.equal(await store.load(key, x.clock), null);
    });

    it('keys are kept at rest only as a digest', async (ctx) => {
      if (!x.serverSide() || !x.t.dumpAtRest || x.options.keysInClear) return ctx.skip('not applicable');
      const key = x.keyOf(await x.saved((s) => s.set('marker', 'digest-check')));
      const dump = await x.t.dumpAtRest();
      assert.match(dump, /digest-check/, 'the dump should hold the data');
      assert.equal(dump.includes(key), false, 'the raw key must not be stored');
    });

    it('parallel requests changing different keys all survive', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
      const peerSessions = x.t.peer ? x.make({}, x.t.peer) : x.sessions;
      const cookie = await x.saved((s) => s.set('base', 0));
      const loaded = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? peerSessions : x.sessions).load(cookie)));
      for (const [i, s] of loaded.entries()) s.set(`k${i}`, i);
      await Promise.all(loaded.map((s, i) => (i % 2 ? peerSessions : x.sessions).commit(s)));
      const data = Object.fromEntries((await x.sessions.load(cookie)).entries());
      assert.deepEqual(data, { base: 0, ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) });
    });

    it('flashes from parallel requests all survive, and reading one keeps the others', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
      const cookie = await x.saved((s) => s.set('base', 0));
      const loaded = await Promise.all([x.sessions.load(cookie), x.sessions.load(cookie), x.sessions.load(cookie)]);
      for (const [i, s] of loaded.entries()) s.flash(`m${i}`, i);
      await Promise.all(loaded.map((s) => x.sessions.commit(s)));
      const first = await x.sessions.load(cookie);
      assert.equal(first.get('m1'), 1);
      await x.sessions.commit(first);
      const second = await x.sessions.load(cookie);
      assert.deepEqual([second.get('m0'), second.get('m1'), second.get('m2')], [0, undefined, 2]);
    });

    it('50 parallel modify appends leave 50 items', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
      const peerSessions = x.t.peer ? x.make({}, x.t.peer) : x.sessions;
      const cookie = await x.saved((s) => s.set('cart', []));
      const loaded = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peerSessions : x.sessions).load(cookie)));
      for (const [i, s] of loaded.entries()) s.modify('cart', (cart) => [...(cart ?? []), i]);
      await Promise.all(loaded.map((s, i) => (i % 2 ? peerSessions : x.sessions).commit(s)));
      const cart = (await x.sessions.load(cookie)).get('cart') as number[];
      assert.equal(cart.length, 50);
      assert.deepEqual(
        [...cart].sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i),
      );
    });

    it('500 parallel modify appends on one session in one process leave 500 items', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
      const cookie = await x.saved((s) => s.set('cart', []));
      const loaded = await Promise.all(Array.from({ length: 500 }, () => x.sessions.load(cookie)));
      for (const [i, s] of loaded.entries()) s.modify('cart', (cart) => [...(cart ?? []), i]);
      const results = await Promise.allSettled(loaded.map((s) => x.sessions.commit(s)));
      assert.deepEqual(
        results.filter((r) => r.status === 'rejected'),
        [],
        'no commit gives up',
      );
      const cart = (await x.sessions.load(cookie)).get('cart') as number[];
      assert.equal(cart.length, 500);
      assert.deepEqual(
        [...cart].sort((a, b) => a - b),
        Array.from({ length: 500 }, (_, i) => i),
      );
    });

    it('a stored session nested deeper than the limit loads as corrupt (logged) and never blocks later saves', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no stored rows (see its own test)');
      let deep: unknown = 'bottom';
      for (let i = 0; i < MAX_DEPTH + 50; i++) deep = { d: deep };
      const cookie = await x.saved((s) => s.set('x', 1));
      const before = x.logger.records.length;
      assert.equal(
        await x
          .server()
          .update({
            key: x.keyOf(cookie),
            data: { deep },
            expiresAt: x.clock + 60_000,
            expectedVersion: (await x.server().load(x.keyOf(cookie), x.clock))!.version,
            now: x.clock,
          })
          .then((r) => r.status),
        'ok',
      );
      const s = await x.sessions.load(cookie);
      assert.equal(s.get('deep'), undefined);
      assert.ok(x.logger.records.slice(before).some((r) => r.level === 'warn' && /deeper than/.test(r.message)));
      s.set('after', true);
      assert.equal(x.keyOf(x.cookieOf(await x.sessions.commit(s))), x.keyOf(cookie));
      assert.deepEqual(Object.fromEntries((await x.sessions.load(cookie)).entries()), { after: true });
    });

    it('maxSize: a session over it is refused at commit, before anything is written', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has its own, smaller, limit');
      const small = x.make({ maxSize: 2000 });
      const cookie = await x.saved((s) => s.set('x', 'kept'), small);
      const s = await small.load(cookie);
      s.set('x', 'é'.repeat(1000)); // 2000 bytes of UTF-8 in 1000 characters
      await assert.rejects(
        small.commit(s),
        (err: unknown) => err instanceof SessionDataError && /\d{4} bytes/.test(err.message) && /maxSize \(2000 bytes\)/.test(err.message),
      );
      assert.equal((await small.load(cookie)).get('x'), 'kept', 'the stored session is unchanged');
      const fresh = await small.load();
      fresh.set('x', 'y'.repeat(3000));
      const count = (await x.server().stats(x.clock)).count;
      await assert.rejects(small.commit(fresh), SessionDataError);
      assert.equal((await x.server().stats(x.clock)).count, count, 'no row was created');
    });

    it('a logout racing a slow write: the slow write does not bring the session back', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('the cookie store has no records');
      const cookie = await x.saved((s) => s.set('user', 'alice'));
      const slow = await x.sessions.load(cookie);
      const logout = await x.sessions.load(cookie);
      await logout.flush();
      await x.sessions.commit(logout);
      slow.set('cart', ['late']);
      await assert.rejects(x.sessions.commit(slow), SessionInterruptedError);
      assert.equal(await x.server().exists(x.keyOf(cookie)), false);
    });

    it('clearExpired removes expired sessions only, and says how many', async (ctx) => {
      if (!x.serverSide()) return ctx.skip('nothing to clear');
      await x.sessions.clearExpired();
      const live = x.keyOf(
        await x.saved((s) => {
          s.set('x', 1);
          s.setExpiry(3600);
        }),
      );
      const dead = x.keyOf(
        await x.saved((s) => {
          s.set('x', 1);
          s.setExpiry(-3600);
        }),
      );
      if (x.options.selfExpiring) {
        await x.sessions.clearExpired();
      } else {
        assert.ok((await x.server().stats(x.clock)).expired >= 1);
        assert.equal(await x.sessions.clearExpired(), 1);
      }
      assert.equal(await x.server().exists(live), true);
      assert.equal(await x.server().exists(dead), false);
      assert.equal((await x.server().stats(x.clock)).expired, 0);
    });
  });
}
