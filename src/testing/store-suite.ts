import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeSessions, type Sessions } from '../core/sessions.js';
import { SessionDataError, SessionKeyError } from '../core/errors.js';
import { MAX_DEPTH } from '../core/codec.js';
import type { Session } from '../core/session.js';
import { capabilitiesOf, isClientSide, syncFacetOf, type AnyStore, type SessionStore, type UserIndexedStore } from '../core/store.js';
import { describeGuarantees } from './guarantees.js';
import { accountsCases } from './store-suite-accounts.js';
import { serverSideCases } from './store-suite-server.js';
import { twinsCases } from './store-suite-twins.js';

type Data = Record<string, any>;

export { recordingLogger, type DescribeStoreOptions, type StoreUnderTest, type SuiteContext } from './store-suite-context.js';
import { recordingLogger, type DescribeStoreOptions, type StoreUnderTest, type SuiteContext } from './store-suite-context.js';

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

    describeGuarantees({
      store: server,
      peer: () => (t.peer ?? t.store) as SessionStore,
      make: (extra, store) => make(extra, store),
      advance: (ms) => {
        clock += ms;
      },
      noUserIndex: () => options.noUserIndex === true || Boolean((t.store as { noUserIndex?: string }).noUserIndex),
      serverSide,
      clientSide: options.clientSide === true,
      noRevoke: options.noUserIndex === true,
    });

    it('the store declares what it can do, and the declaration is what it does', async () => {
      const can = capabilitiesOf(t.store);
      const s = t.store as Partial<SessionStore & UserIndexedStore>;
      if (can.userIndex === true) {
        assert.equal(typeof s.listByUser, 'function');
        assert.equal(typeof s.revoke, 'function');
        assert.equal(typeof s.touch, 'function');
      } else assert.match(can.userIndex, /\w{3,}.* /, 'a store without a user index says why');
      assert.equal(can.userIndex !== true, options.noUserIndex === true || options.clientSide === true, 'noUserIndex/clientSide');
      assert.equal(can.keysInClear, options.keysInClear === true, 'keysInClear');
      assert.equal(can.selfExpiring, options.selfExpiring === true || options.clientSide === true, 'selfExpiring');
      if (!isClientSide(t.store)) {
        // a wrapper may hide a synchronous store's facet (the engine then awaits); a store that says
        // it is asynchronous must have none
        if (!can.synchronous) assert.equal(syncFacetOf(t.store), undefined, 'synchronous');
        if (options.synchronous) assert.equal(can.synchronous, true, 'synchronous');
      }
    });

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
          () => s.set('bad', bad as never),
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

    it('a flashed value is read once, on the next request that reads it, then it is gone', async () => {
      let cookie = await saved((s) => s.flash('notice', 'Saved.'));
      const follow = (next: string | null) => (next && serverSide() ? cookie : next ? cookieOf(next) : cookie);
      const untouched = await sessions.load(cookie);
      untouched.get('other');
      assert.equal(await sessions.commit(untouched), null, 'a request that does not read it keeps it and saves nothing');
      const reader = await sessions.load(cookie);
      assert.equal(reader.has('notice'), true);
      assert.equal(reader.get('notice'), 'Saved.');
      assert.equal(reader.get('notice'), undefined, 'read once, also within the request');
      cookie = follow(await sessions.commit(reader));
      const after = await sessions.load(cookie);
      assert.equal(after.get('notice'), undefined);
      assert.deepEqual([...after.keys()], [], 'no bookkeeping key is left behind');
      assert.throws(() => after.flash('bad', (() => 1) as never), SessionDataError);
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

    const x: SuiteContext = {
      logger,
      options,
      get t() {
        return t;
      },
      get sessions() {
        return sessions;
      },
      get clock() {
        return clock;
      },
      set clock(value: number) {
        clock = value;
      },
      now,
      make,
      cookieOf,
      saved,
      keyOf,
      serverSide,
      server,
    };
    accountsCases(x);

    it('__proto__, constructor and every inherited name are ordinary keys, saved and loaded back', async () => {
      const s = await sessions.load();
      s.set('__proto__' as keyof Data & string, { polluted: true } as never);
      s.set('constructor' as keyof Data & string, 'c' as never);
      assert.equal(s.setDefault('toString' as keyof Data & string, 1 as never), 1);
      s.update(JSON.parse('{"__proto__": "via update", "hasOwnProperty": 2}'));
      let seen: unknown = 'not called';
      s.modify('valueOf' as keyof Data & string, (current) => {
        seen = current;
        return 'v' as never;
      });
      assert.equal(seen, undefined, 'modify hands fn undefined for an inherited name');
      assert.equal(s.has('isPrototypeOf' as keyof Data & string), false);
      assert.equal(s.get('propertyIsEnumerable' as keyof Data & string), undefined);
      assert.equal(s.pop('__defineGetter__' as keyof Data & string, 'fallback' as never), 'fallback');
      assert.equal(s.get('polluted' as keyof Data & string), undefined, 'the data did not get a prototype');
      const expected = JSON.parse('{"__proto__": "via update", "constructor": "c", "toString": 1, "hasOwnProperty": 2, "valueOf": "v"}');
      const cookie = cookieOf(await sessions.commit(s));
      const back = await sessions.load(cookie);
      assert.deepEqual(Object.fromEntries(back.entries()), expected);
      assert.equal(back.get('__proto__' as keyof Data & string), 'via update');
      assert.equal(back.has('constructor' as keyof Data & string), true);
      assert.equal(back.has('toLocaleString' as keyof Data & string), false);
    });

    it('nesting deeper than the limit is a SessionDataError at set, naming the limit', async () => {
      const s = await sessions.load();
      let ok: unknown = 1;
      for (let i = 0; i < MAX_DEPTH; i++) ok = [ok];
      s.set('ok', ok as never);
      for (const depth of [MAX_DEPTH + 1, 10_000]) {
        let deep: unknown = 1;
        for (let i = 0; i < depth; i++) deep = { d: deep };
        assert.throws(
          () => s.set('deep', deep as never),
          (err: unknown) =>
            err instanceof SessionDataError && err.key === 'deep' && new RegExp(`deeper than ${MAX_DEPTH}`).test(err.message),
        );
      }
      const cookie = cookieOf(await sessions.commit(s));
      assert.deepEqual((await sessions.load(cookie)).get('ok'), ok);
    });

    serverSideCases(x);
    twinsCases(x);
  });
}
