import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeSessions, type Sessions } from '../core/sessions.js';
import { SessionDataError, SessionInterruptedError, SessionKeyError } from '../core/errors.js';
import { newSessionKey } from '../core/keys.js';
import type { Logger } from '../core/log.js';
import type { Session } from '../core/session.js';
import { isClientSide, type AnyStore, type SessionStore } from '../core/store.js';

/** What a store's test file gives the conformance suite. */
export interface StoreUnderTest {
  store: AnyStore;
  /** Overwrites the stored record of `key` with bytes that are not session data (server-side stores). */
  corrupt?(key: string): Promise<void>;
  /** Everything the store holds at rest, as text, to check that no raw key is kept (server-side stores). */
  dumpAtRest?(): Promise<string>;
  /** A second store over the same data (another process's view), for conflict tests. Defaults to `store`. */
  peer?: AnyStore;
  /** Stops servers the factory started. */
  close?(): Promise<void>;
}

export interface DescribeStoreOptions {
  /** Builds the store once for the suite; every case uses fresh keys. */
  setup(logger: Logger): Promise<StoreUnderTest> | StoreUnderTest;
  /** Whether this store keeps session keys as Django does (the Django store): no digest at rest. */
  keysInClear?: boolean;
  /** The store forgets expired records by itself (a Redis TTL): clearExpired has nothing left to count. */
  selfExpiring?: boolean;
}

type Data = Record<string, any>;

/** A logger that remembers what it was told. */
export function recordingLogger(): Logger & { records: { level: string; message: string }[] } {
  const records: { level: string; message: string }[] = [];
  return {
    records,
    warn: (message) => void records.push({ level: 'warn', message }),
    error: (message) => void records.push({ level: 'error', message }),
  };
}

/**
 * The conformance suite every store passes: Django's SessionTestsMixin cases that apply, plus
 * sessionkit's guarantees (digest at rest, compare-and-set, no lost updates).
 */
export function describeStore(name: string, options: DescribeStoreOptions): void {
  describe(`store conformance: ${name}`, () => {
    const logger = recordingLogger();
    let t!: StoreUnderTest;
    let clock = Date.now();
    const now = () => clock;
    const make = (extra: Record<string, unknown> = {}, store?: AnyStore): Sessions<Data> =>
      makeSessions<Data>({ store: store ?? t.store, clock: now, logger, ...extra }, () => {
        throw new Error('unreachable');
      });
    let sessions!: Sessions<Data>;
    const cookieOf = (setCookie: string | null): string => {
      assert.ok(setCookie, 'expected a Set-Cookie header');
      return setCookie.split(';')[0]!;
    };
    /** Saves a session and returns the cookie that names it. */
    const saved = async (fill: (s: Session<Data>) => void | Promise<void>, via = sessions): Promise<string> => {
      const s = await via.load();
      await fill(s);
      return cookieOf(await via.commit(s));
    };
    const keyOf = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

    before(async () => {
      t = await options.setup(logger);
      sessions = make();
    });
    after(async () => {
      await t.store.close();
      if (t.peer && t.peer !== t.store) await t.peer.close();
      await t.close?.();
    });

    const serverSide = () => !isClientSide(t.store);
    const server = () => t.store as SessionStore;

    it('a new session is neither modified nor accessed, and empty', async () => {
      const s = await sessions.load();
      assert.equal(s.modified, false);
      assert.equal(s.accessed, false);
      assert.equal(s.isEmpty, true);
      assert.equal(s.key, null);
    });

    it('get of an absent key is undefined, or the fallback', async () => {
      const s = await sessions.load();
      assert.equal(s.get('cat'), undefined);
      assert.equal(s.get('count', 0), 0);
      assert.equal(s.accessed, true);
      assert.equal(s.modified, false);
    });

    it('set marks the session modified; pop returns the value', async () => {
      const s = await sessions.load();
      s.set('cat', 'dog');
      assert.equal(s.modified, true);
      assert.equal(s.pop('cat'), 'dog');
      assert.equal(s.get('cat'), undefined);
    });

    it('pop with a fallback on an absent key does not modify', async () => {
      const s = await sessions.load();
      assert.equal(s.pop('some key', 'does not exist'), 'does not exist');
      assert.equal(s.accessed, true);
      assert.equal(s.modified, false);
    });

    it('pop and require of an absent key throw SessionKeyError', async () => {
      const s = await sessions.load();
      assert.throws(() => s.pop('some key'), SessionKeyError);
      assert.throws(
        () => s.require('some key'),
        (err: unknown) => err instanceof SessionKeyError && err.code === 'SESSION_KEY' && /some key/.test(err.message),
      );
      s.set('user', 'Bob');
      assert.equal(s.delete('user'), true);
      assert.throws(() => s.require('user'), SessionKeyError);
      assert.equal(s.delete('user'), false);
    });

    it('setDefault stores only when absent', async () => {
      const s = await sessions.load();
      assert.equal(s.setDefault('foo', 'bar'), 'bar');
      assert.equal(s.setDefault('foo', 'baz'), 'bar');
      assert.equal(s.accessed, true);
      assert.equal(s.modified, true);
      const t2 = await sessions.load();
      t2.set('foo', 'bar');
      t2.modified = false;
      t2.setDefault('foo', 'baz');
      assert.equal(t2.modified, false);
    });

    it('update sets every key and modifies', async () => {
      const s = await sessions.load();
      s.update({ 'update key': 1 });
      assert.equal(s.modified, true);
      assert.equal(s.get('update key'), 1);
    });

    it('has, keys, values and entries read without modifying', async () => {
      const s = await sessions.load();
      assert.deepEqual([...s.values()], []);
      s.set('some key', 1);
      s.modified = false;
      assert.equal(s.has('some key'), true);
      assert.equal(s.has('other'), false);
      assert.deepEqual([...s.keys()], ['some key']);
      assert.deepEqual([...s.values()], [1]);
      assert.deepEqual([...s.entries()], [['some key', 1]]);
      assert.equal(s.accessed, true);
      assert.equal(s.modified, false);
    });

    it('clear removes every key and modifies', async () => {
      const s = await sessions.load();
      s.set('x', 1);
      s.modified = false;
      s.clear();
      assert.deepEqual([...s.entries()], []);
      assert.equal(s.modified, true);
      assert.equal(s.accessed, true);
    });

    it('set rejects a value that does not survive JSON, naming the key', async () => {
      const s = await sessions.load();
      class Point {
        x = 1;
      }
      const cyclic: any = { a: 1 };
      cyclic.self = cyclic;
      for (const bad of [
        () => 1,
        Symbol('s'),
        10n,
        NaN,
        Infinity,
        -Infinity,
        new Date(),
        new Map(),
        new Set(),
        new Point(),
        cyclic,
        [1, , 3],
        { u: undefined },
      ]) {
        assert.throws(
          () => s.set('bad', bad as any),
          (err: unknown) => err instanceof SessionDataError && err.key === 'bad' && /"bad"/.test(err.message),
        );
      }
      assert.equal(s.has('bad'), false);
      assert.equal(s.modified, false);
    });

    it('saved data loads back equal, through a JSON round trip', async () => {
      const value = { nested: [1, 'two', { three: true, four: null }], ünï: '😀 "quoted" \\ </script>' };
      const cookie = await saved((s) => s.set('v', value));
      const s = await sessions.load(cookie);
      assert.deepEqual(s.get('v'), value);
      assert.equal(s.key, keyOf(cookie));
    });

    it('saving does not clear the data in hand', async () => {
      const s = await sessions.load();
      s.set('a', 'b');
      await sessions.commit(s);
      assert.equal(s.get('a'), 'b');
    });

    it('a change inside a stored array or object is saved without touching modified', async () => {
      const cookie = await saved((s) => s.set('cart', ['apple']));
      const s = await sessions.load(cookie);
      s.get('cart').push('pear');
      const next = await sessions.commit(s);
      assert.ok(next, 'a nested change should be saved');
      // A client-side store's new data travels in the new cookie; a server-side store keeps the key.
      const again = await sessions.load(serverSide() ? cookie : cookieOf(next));
      assert.deepEqual(again.get('cart'), ['apple', 'pear']);
      const untouched = await sessions.load(cookie);
      untouched.get('cart');
      assert.equal(await sessions.commit(untouched), null, 'reading alone saves nothing');
    });

    it('default expiry is the cookie age, also for browser-close sessions', async () => {
      const s = await sessions.load();
      assert.equal(s.expiryAge, 1209600);
      s.setExpiry(0);
      assert.equal(s.expiryAge, 1209600);
    });

    it('custom expiry in seconds', async () => {
      const s = await sessions.load();
      s.setExpiry(10);
      assert.equal(s.expiryAge, 10);
      assert.equal(s.expiryDate.getTime(), clock + 10_000);
    });

    it('custom expiry as a date is kept to the millisecond', async () => {
      const s = await sessions.load();
      const at = new Date(clock + 10_123);
      s.setExpiry(at);
      assert.equal(s.expiryDate.getTime(), at.getTime());
      assert.equal(s.expiryAge, 10);
      const cookie = cookieOf(await sessions.commit(s));
      const back = await sessions.load(cookie);
      assert.equal(back.expiryDate.getTime(), at.getTime());
    });

    it('setExpiry(null) goes back to the default', async () => {
      const s = await sessions.load();
      s.setExpiry(null);
      s.setExpiry(10);
      s.setExpiry(null);
      assert.equal(s.expiryAge, 1209600);
    });

    it('expireAtBrowserClose follows setExpiry and the global option', async () => {
      for (const global of [false, true]) {
        const sx = make({ expireAtBrowserClose: global });
        const s = await sx.load();
        s.setExpiry(10);
        assert.equal(s.expireAtBrowserClose, false);
        s.setExpiry(0);
        assert.equal(s.expireAtBrowserClose, true);
        s.setExpiry(null);
        assert.equal(s.expireAtBrowserClose, global);
      }
    });

    it('a browser-close session gets a cookie without Max-Age or Expires', async () => {
      const s = await sessions.load();
      s.set('x', 1);
      s.setExpiry(0);
      const header = (await sessions.commit(s))!;
      assert.doesNotMatch(header, /Max-Age|Expires/i);
      assert.ok((await sessions.load(header.split(';')[0])).has('x'));
    });

    it('the cookie carries Max-Age and Expires from the session expiry', async () => {
      const s = await sessions.load();
      s.set('x', 1);
      s.setExpiry(3600);
      const header = (await sessions.commit(s))!;
      assert.match(header, /Max-Age=3600/);
      assert.match(header, new RegExp(`Expires=${new Date(clock + 3600_000).toUTCString()}`));
    });

    it('an expired session is never loaded', async () => {
      const cookie = await saved((s) => {
        s.set('foo', 'bar');
        s.setExpiry(10);
      });
      assert.equal((await sessions.load(cookie)).get('foo'), 'bar');
      clock += 11_000;
      try {
        const s = await sessions.load(cookie);
        assert.equal(s.has('foo'), false);
        assert.equal(s.key, null);
      } finally {
        clock -= 11_000;
      }
      const past = await saved((s) => {
        s.set('foo', 'bar');
        s.setExpiry(-10);
      });
      assert.equal((await sessions.load(past)).has('foo'), false);
    });

    it('a malformed cookie key is never adopted: a fresh session gets a server-made key', async () => {
      for (const bad of [
        '1',
        'short',
        'x'.repeat(32),
        'A'.repeat(32),
        '../../etc/passwd',
        '%00'.repeat(12),
        '%E0%A4%A-bad-percent-encoding',
        'x'.repeat(10_000),
        '"quoted-value"',
      ]) {
        const s = await sessions.load(`sessionid=${bad}`);
        assert.equal(s.get('cat'), undefined);
        s.set('cat', 'dog');
        const cookie = cookieOf(await sessions.commit(s));
        assert.notEqual(keyOf(cookie), bad);
      }
    });

    it('saved keys are 32 characters of [a-z0-9], all different', async () => {
      if (!serverSide()) return;
      const keys = new Set<string>();
      for (let i = 0; i < 20; i++) keys.add(keyOf(await saved((s) => s.set('i', i))));
      assert.equal(keys.size, 20);
      for (const k of keys) assert.match(k, /^[a-z0-9]{32}$/);
    });

    describe('server-side stores', () => {
      it('save makes a record; delete removes it', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has no records');
        const key = keyOf(await saved((s) => s.set('x', 1)));
        assert.equal(await server().exists(key), true);
        await server().delete(key);
        assert.equal(await server().exists(key), false);
      });

      it('an unknown well-formed key is not adopted, and loading creates no record', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has no records');
        const madeUp = newSessionKey();
        const s = await sessions.load(`sessionid=${madeUp}`);
        assert.equal(s.key, null);
        assert.equal(await server().exists(madeUp), false);
        s.set('x', 1);
        const key = keyOf(cookieOf(await sessions.commit(s)));
        assert.notEqual(key, madeUp);
        assert.equal(await server().exists(madeUp), false);
      });

      it('flush deletes the record and forgets the key', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has no records');
        const cookie = await saved((s) => s.set('foo', 'bar'));
        const prev = keyOf(cookie);
        const s = await sessions.load(cookie);
        await s.flush();
        assert.equal(await server().exists(prev), false);
        assert.equal(s.key, null);
        assert.equal(s.modified, true);
        assert.equal(s.accessed, true);
        assert.equal(s.isEmpty, true);
        assert.match((await sessions.commit(s))!, /Max-Age=0/);
      });

      it('cycleKey keeps the data under a new key and deletes the old one', async (ctx) => {
        if (!serverSide()) return ctx.skip('old cookies cannot be revoked');
        const cookie = await saved((s) => s.update({ a: 'c', b: 'd' }));
        const prev = keyOf(cookie);
        const s = await sessions.load(cookie); // nothing read yet: cycleKey works from what was loaded
        await s.cycleKey();
        assert.notEqual(s.key, prev);
        assert.equal(await server().exists(prev), false);
        assert.deepEqual(Object.fromEntries(s.entries()), { a: 'c', b: 'd' });
        const next = cookieOf(await sessions.commit(s));
        assert.equal(keyOf(next), s.key);
        assert.deepEqual(Object.fromEntries((await sessions.load(next)).entries()), { a: 'c', b: 'd' });
        assert.equal((await sessions.load(cookie)).has('a'), false);
      });

      it('corrupt stored data reads as an empty session, is logged, and is overwritten on the next save', async (ctx) => {
        if (!serverSide() || !t.corrupt) return ctx.skip('no way to corrupt this store');
        const cookie = await saved((s) => s.set('x', 1));
        await t.corrupt(keyOf(cookie));
        const before = logger.records.length;
        const s = await sessions.load(cookie);
        assert.deepEqual([...s.entries()], []);
        assert.equal(s.key, keyOf(cookie), 'the key of a found but corrupt record is kept');
        assert.ok(logger.records.length > before, 'the corruption is logged');
        s.set('y', 2);
        assert.equal(keyOf(cookieOf(await sessions.commit(s))), keyOf(cookie));
        assert.deepEqual(Object.fromEntries((await sessions.load(cookie)).entries()), { y: 2 });
      });

      it('a save does not bring back a session deleted elsewhere', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has no records');
        const cookie = await saved((s) => s.set('key', 'value1'));
        const s1 = await sessions.load(cookie);
        await server().delete(keyOf(cookie));
        s1.set('key', 'value2');
        await assert.rejects(sessions.commit(s1), SessionInterruptedError);
        assert.equal((await sessions.load(cookie)).has('key'), false);
        assert.equal(await server().exists(keyOf(cookie)), false);
      });

      it('create is create-only and update is conditional on the version', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has no records');
        const store = server();
        const key = newSessionKey();
        const until = clock + 60_000;
        const v1 = await store.create(key, { a: 1 }, until, clock);
        assert.notEqual(v1, null);
        assert.equal(await store.create(key, { a: 2 }, until, clock), null);
        const r = await store.update(key, { a: 3 }, until, v1!, clock);
        assert.equal(r.status, 'ok');
        assert.deepEqual(await store.update(key, { a: 4 }, until, v1!, clock), { status: 'conflict' });
        assert.deepEqual((await store.load(key, clock))!.data, { a: 3 });
        await store.delete(key);
        assert.deepEqual(await store.update(key, { a: 5 }, until, v1!, clock), { status: 'missing' });
        assert.equal(await store.load(key, clock), null);
      });

      it('keys are kept at rest only as a digest', async (ctx) => {
        if (!serverSide() || !t.dumpAtRest || options.keysInClear) return ctx.skip('not applicable');
        const key = keyOf(await saved((s) => s.set('marker', 'digest-check')));
        const dump = await t.dumpAtRest();
        assert.match(dump, /digest-check/, 'the dump should hold the data');
        assert.equal(dump.includes(key), false, 'the raw key must not be stored');
      });

      it('parallel requests changing different keys all survive', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
        const peerSessions = t.peer ? make({}, t.peer) : sessions;
        const cookie = await saved((s) => s.set('base', 0));
        const loaded = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? peerSessions : sessions).load(cookie)));
        for (const [i, s] of loaded.entries()) s.set(`k${i}`, i);
        await Promise.all(loaded.map((s, i) => (i % 2 ? peerSessions : sessions).commit(s)));
        const data = Object.fromEntries((await sessions.load(cookie)).entries());
        assert.deepEqual(data, { base: 0, ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])) });
      });

      it('50 parallel modify appends leave 50 items', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
        const peerSessions = t.peer ? make({}, t.peer) : sessions;
        const cookie = await saved((s) => s.set('cart', []));
        const loaded = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peerSessions : sessions).load(cookie)));
        for (const [i, s] of loaded.entries()) s.modify('cart', (cart) => [...(cart ?? []), i]);
        await Promise.all(loaded.map((s, i) => (i % 2 ? peerSessions : sessions).commit(s)));
        const cart = (await sessions.load(cookie)).get('cart') as number[];
        assert.equal(cart.length, 50);
        assert.deepEqual(
          [...cart].sort((a, b) => a - b),
          Array.from({ length: 50 }, (_, i) => i),
        );
      });

      it('a logout racing a slow write: the slow write does not bring the session back', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has no records');
        const cookie = await saved((s) => s.set('user', 'alice'));
        const slow = await sessions.load(cookie);
        const logout = await sessions.load(cookie);
        await logout.flush();
        await sessions.commit(logout);
        slow.set('cart', ['late']);
        await assert.rejects(sessions.commit(slow), SessionInterruptedError);
        assert.equal(await server().exists(keyOf(cookie)), false);
      });

      it('clearExpired removes expired sessions only, and says how many', async (ctx) => {
        if (!serverSide()) return ctx.skip('nothing to clear');
        await sessions.clearExpired();
        const live = keyOf(
          await saved((s) => {
            s.set('x', 1);
            s.setExpiry(3600);
          }),
        );
        const dead = keyOf(
          await saved((s) => {
            s.set('x', 1);
            s.setExpiry(-3600);
          }),
        );
        if (options.selfExpiring) {
          await sessions.clearExpired();
        } else {
          assert.ok((await server().stats(clock)).expired >= 1);
          assert.equal(await sessions.clearExpired(), 1);
        }
        assert.equal(await server().exists(live), true);
        assert.equal(await server().exists(dead), false);
        assert.equal((await server().stats(clock)).expired, 0);
      });
    });
  });
}
