import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadForRequest, makeSessions, type Sessions } from '../core/sessions.js';
import { checkCsrf, type CsrfVerdict, resolveCsrfOptions, verifyCsrfToken } from '../core/csrf.js';
import { ConfigError } from '../core/errors.js';
import { digestKey } from '../core/keys.js';
import { SessionDataError, SessionInterruptedError, SessionKeyError } from '../core/errors.js';
import { MAX_DEPTH } from '../core/codec.js';
import { newSessionKey } from '../core/keys.js';
import type { Logger } from '../core/log.js';
import type { RequestLike } from '../core/cookie.js';
import type { Session } from '../core/session.js';
import { isClientSide, type AnyStore, type SessionData, type SessionStore, type UpdateResult } from '../core/store.js';
import { META_KEY } from '../core/accounts.js';
import { describeGuarantees } from './guarantees.js';

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
  /**
   * The store cannot find sessions by user (Django's table has no user column): the suite checks
   * that listing, revoking, idleTimeout and maxSessionsPerUser are refused with ConfigError instead.
   */
  noUserIndex?: boolean;
  /**
   * The store answers synchronously underneath (in process memory, SQLite): the suite checks that
   * it has `loadSync` and `updateSync`, that the engine answers a request through them without a
   * promise, and (for every store that has them) that they answer exactly as `load` and `update`.
   */
  synchronous?: boolean;
}

type Data = Record<string, any>;

/** A logger that remembers what it was told. */
export function recordingLogger(): Logger & { records: { level: string; message: string; details?: Record<string, unknown> }[] } {
  const records: { level: string; message: string; details?: Record<string, unknown> }[] = [];
  return {
    records,
    warn: (message, details) => void records.push({ level: 'warn', message, details }),
    error: (message, details) => void records.push({ level: 'error', message, details }),
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

    describeGuarantees({
      store: server,
      peer: () => (t.peer ?? t.store) as SessionStore,
      make: (extra, store) => make(extra, store),
      advance: (ms) => {
        clock += ms;
      },
      noUserIndex: () => options.noUserIndex === true || Boolean((t.store as { noUserIndex?: string }).noUserIndex),
      serverSide,
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

    describe('accounts and devices', () => {
      /** Whether this store has the user index (every server-side store but those that say they have none). */
      const indexed = () =>
        serverSide() &&
        !options.noUserIndex &&
        typeof (t.store as SessionStore).listByUser === 'function' &&
        !(t.store as { noUserIndex?: string }).noUserIndex;
      let n = 0;
      const newUser = () => `user-${process.pid}-${Date.now()}-${++n}`;
      /** A node-style request from one device: its cookie, user agent and socket address. */
      const device = (cookie: string | null, userAgent: string, ip = '203.0.113.7'): RequestLike => {
        const req = { headers: { cookie: cookie ?? undefined, 'user-agent': userAgent }, socket: { remoteAddress: ip } };
        return req as RequestLike;
      };
      /** Signs in on a new device and returns its cookie. */
      const signIn = async (via: Sessions<Data>, user: string, userAgent: string, ip?: string): Promise<string> => {
        const s = await via.load(device(null, userAgent, ip));
        s.set('cart', ['mug']);
        await s.login(user);
        return cookieOf(await via.commit(s));
      };
      /** One request of a device that changes nothing; returns the session it saw. */
      const visit = async (via: Sessions<Data>, cookie: string) => {
        const s = await via.load(device(cookie, 'any'));
        assert.equal(await via.commit(s), null);
        return s;
      };
      const signedInAs = async (via: Sessions<Data>, cookie: string) => (await via.load(cookie)).userId;

      it('login binds the session to the user and gives it a public id that is not the key', async () => {
        const user = newUser();
        const s = await sessions.load(device(null, 'Firefox'));
        assert.equal(s.userId, null);
        assert.equal(s.id, null, 'no id before the session is saved');
        s.set('cart', ['mug']);
        const before = serverSide() ? keyOf(cookieOf(await sessions.commit(s))) : null;
        await s.login(user);
        assert.equal(s.userId, user);
        if (before !== null) assert.notEqual(s.key, before, 'login cycles the key');
        assert.deepEqual(s.get('cart'), ['mug'], 'and keeps the data');
        const cookie = cookieOf(await sessions.commit(s));
        const again = await sessions.load(cookie);
        assert.equal(again.userId, user);
        if (!serverSide()) {
          assert.equal(again.id, null, 'the cookie store has no stored session to name');
          return;
        }
        assert.match(again.id!, /^[0-9a-f]{64}$/);
        assert.equal(again.id, s.id);
        assert.ok(!again.id!.includes(keyOf(cookie)));
        const forged = await sessions.load(`sessionid=${again.id}`);
        assert.equal(forged.userId, null, 'the id does not work as a cookie');
        assert.equal(forged.key, null);
        await again.flush();
        assert.equal(again.userId, null, 'logout unbinds');
      });

      it('login rejects a user id that is not a non-empty string', async () => {
        const s = await sessions.load();
        for (const bad of ['', 42, null, 'x'.repeat(256)]) {
          await assert.rejects(
            s.login(bad as string),
            (err: unknown) => err instanceof SessionDataError && /login\(userId\)/.test(err.message),
          );
        }
      });

      it('three devices of one user are listed with their user agents, most recently seen first', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const user = newUser();
        const start = clock;
        const firefox = await signIn(sessions, user, 'Firefox on Linux', '198.51.100.1');
        clock += 1000;
        const safari = await signIn(sessions, user, 'Safari on iPhone', '::ffff:198.51.100.2');
        clock += 1000;
        const chrome = await signIn(sessions, user, 'Chrome on Windows');
        await signIn(sessions, newUser(), 'Someone else');
        clock += 1000;
        const list = await sessions.listUserSessions(user);
        try {
          assert.deepEqual(
            list.map((u) => u.userAgent),
            ['Chrome on Windows', 'Safari on iPhone', 'Firefox on Linux'],
          );
          assert.deepEqual(
            list.map((u) => u.ip),
            ['203.0.113.7', '198.51.100.2', '198.51.100.1'],
          );
          const ids = await Promise.all([chrome, safari, firefox].map(async (c) => (await sessions.load(c)).id));
          assert.deepEqual(
            list.map((u) => u.id),
            ids,
          );
          const [c, , f] = list;
          assert.equal(c!.userId, user);
          assert.equal(c!.createdAt!.getTime(), start + 2000);
          assert.equal(f!.lastSeenAt!.getTime(), start);
          assert.ok(c!.expiresAt.getTime() > clock);
          assert.deepEqual(await sessions.listUserSessions(newUser()), []);
        } finally {
          clock -= 3000;
        }
      });

      it('revoking one device ends it at once; the others stay signed in', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const user = newUser();
        const [a, b, c] = [await signIn(sessions, user, 'A'), await signIn(sessions, user, 'B'), await signIn(sessions, user, 'C')];
        const idB = (await sessions.load(b)).id!;
        assert.equal(await sessions.revokeSession(idB), true);
        assert.equal(await sessions.revokeSession(idB), false, 'it existed once');
        assert.equal(await sessions.revokeSession('not an id'), false);
        const revoked = await sessions.load(b);
        assert.equal(revoked.userId, null);
        assert.equal(revoked.key, null, 'a revoked session loads as a fresh one');
        assert.equal(revoked.has('cart'), false);
        assert.equal(await signedInAs(sessions, a), user);
        assert.equal(await signedInAs(sessions, c), user);
        const peer = make({}, t.peer ?? t.store);
        assert.equal(await signedInAs(peer, b), null, 'everywhere');
        assert.deepEqual((await sessions.listUserSessions(user)).map((u) => u.userAgent).sort(), ['A', 'C']);
      });

      it('revokeUserSessions signs out every device but the current one, and says how many', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const user = newUser();
        const a = await signIn(sessions, user, 'A');
        const b = await signIn(sessions, user, 'B');
        const c = await signIn(sessions, user, 'C');
        const current = await sessions.load(c);
        assert.equal(await sessions.revokeUserSessions(user, { except: current }), 2);
        assert.equal(await signedInAs(sessions, a), null);
        assert.equal(await signedInAs(sessions, b), null);
        assert.equal(await signedInAs(sessions, c), user);
        assert.deepEqual(
          (await sessions.listUserSessions(user)).map((u) => u.id),
          [current.id],
        );
        assert.equal(await sessions.revokeUserSessions(user, { except: current.id }), 0, 'except takes an id too');
        assert.equal(await sessions.revokeUserSessions(user), 1);
        assert.deepEqual(await sessions.listUserSessions(user), []);
      });

      it('a logout, a delete or an expiry leaves no session listed', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const user = newUser();
        const out = await sessions.load(await signIn(sessions, user, 'logs out'));
        await out.flush();
        await sessions.commit(out);
        await server().delete(keyOf(await signIn(sessions, user, 'deleted')));
        const short = await sessions.load(await signIn(sessions, user, 'expires'));
        short.setExpiry(10);
        await sessions.commit(short);
        clock += 11_000;
        try {
          assert.deepEqual(await sessions.listUserSessions(user), []);
        } finally {
          clock -= 11_000;
        }
      });

      it('maxSessionsPerUser revokes the least recently seen sessions at a login beyond it', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const capped = make({ maxSessionsPerUser: 2, touchInterval: 0 });
        const user = newUser();
        const start = clock;
        try {
          const a = await signIn(capped, user, 'A');
          clock += 1000;
          const b = await signIn(capped, user, 'B');
          clock += 1000;
          await visit(capped, a); // A seen after B
          clock += 1000;
          const c = await signIn(capped, user, 'C');
          assert.equal(await signedInAs(capped, b), null, 'B, the least recently seen, is revoked');
          assert.equal(await signedInAs(capped, a), user);
          assert.equal(await signedInAs(capped, c), user);
          assert.deepEqual(
            (await capped.listUserSessions(user)).map((u) => u.userAgent),
            ['C', 'A'],
          );
        } finally {
          clock = start;
        }
      });

      it('idleTimeout ends an unused session and not a used one', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const idle = make({ idleTimeout: 1800, touchInterval: 60 });
        const start = clock;
        try {
          const used = await saved((s) => s.set('x', 1), idle);
          const unused = await saved((s) => s.set('x', 2), idle);
          clock += 1_000_000; // 1000 s later: both live
          assert.equal((await idle.load(used)).get('x'), 1);
          await visit(idle, used); // refreshes its expiry to 1800 s from now
          clock += 1_000_000;
          assert.equal((await idle.load(unused)).has('x'), false, 'unused for 2000 s: ended');
          assert.equal((await idle.load(used)).get('x'), 1, 'used 1000 s ago: live');
          clock += 801_000;
          assert.equal((await idle.load(used)).has('x'), false, 'then unused for 1801 s: ended');
        } finally {
          clock = start;
        }
      });

      it('absoluteTimeout ends a busy session, counted from login', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const capped = make({ absoluteTimeout: 3600, idleTimeout: 900 });
        const start = clock;
        try {
          const user = newUser();
          let cookie = await signIn(capped, user, 'busy');
          for (let i = 1; i <= 5; i++) {
            clock += 600_000;
            const s = await capped.load(cookie);
            assert.equal(s.userId, user, `live after ${i * 600} s`);
            s.set('count', i);
            cookie = cookieOf(await capped.commit(s));
          }
          clock += 599_000;
          assert.equal(await signedInAs(capped, cookie), user, 'live 1 s before the hour');
          clock += 1000;
          assert.equal(await signedInAs(capped, cookie), null, 'ended at the hour, busy as it was');
          clock = start;
          const anonymous = await saved((s) => s.set('x', 1), capped);
          clock += 3600_000;
          assert.equal((await capped.load(anonymous)).has('x'), false, 'a session never signed in: from its creation');
        } finally {
          clock = start;
        }
      });

      it('a burst of reads inside touchInterval makes one touch write, which rewrites no data and conflicts with nothing', async (ctx) => {
        if (!indexed()) return ctx.skip('no user index');
        const calls: Record<string, number> = {};
        const counted = new Proxy(t.store as SessionStore, {
          get(target, prop) {
            const value = Reflect.get(target, prop);
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
              return value.apply(target, args);
            };
          },
        });
        const touching = make({ touchInterval: 60 }, counted);
        const start = clock;
        try {
          const user = newUser();
          const cookie = await signIn(touching, user, 'reader');
          const writer = await touching.load(cookie); // loaded before the touch
          for (const k of Object.keys(calls)) delete calls[k];
          for (let i = 0; i < 10; i++) await visit(touching, cookie);
          assert.equal(calls.touch ?? 0, 0, 'inside touchInterval of the login: no touch');
          clock += 61_000;
          await Promise.all(Array.from({ length: 10 }, () => visit(touching, cookie)));
          for (let i = 0; i < 10; i++) {
            clock += 1000;
            await visit(touching, cookie);
          }
          assert.equal(calls.touch, 1, 'one touch for the whole burst');
          // a store's synchronous twins (updateSync, loadSync) are the same calls
          const updates = () => (calls.update ?? 0) + (calls.updateSync ?? 0);
          assert.equal(updates(), 0, 'no data written');
          assert.equal(calls.create ?? 0, 0);
          const [listed] = await touching.listUserSessions(user);
          assert.ok(listed!.lastSeenAt!.getTime() >= start + 61_000, 'lastSeenAt moved');
          writer.set('late', true);
          await touching.commit(writer);
          assert.equal(updates(), 1, 'a write loaded before the touch does not conflict with it');
          assert.deepEqual((await touching.load(cookie)).get('cart'), ['mug']);
        } finally {
          clock = start;
        }
      });

      it('CSRF: tokens are masked anew on every call, all verify, none for another session, replaced at login', async () => {
        const s = await sessions.load();
        assert.equal(verifyCsrfToken(s, undefined), false, 'no token yet');
        const options = resolveCsrfOptions({});
        const post = (token?: string, headers: Record<string, string> = {}) =>
          checkCsrf(
            s2(),
            {
              method: 'POST',
              protocol: 'http',
              host: 'shop.example',
              header: (name) => (name === 'x-csrf-token' ? token : headers[name]),
            },
            options,
          ) as CsrfVerdict;
        let current = s;
        const s2 = () => current;
        assert.deepEqual(post(), { ok: true }, 'a session without a secret and neither header (not a browser): passes');
        assert.equal(post(undefined, { origin: 'https://evil.example' }).ok, false);
        const token = s.csrfToken();
        assert.match(token, /^[A-Za-z0-9_-]{86}$/);
        const again = s.csrfToken();
        assert.notEqual(again, token, 'masked anew on every call');
        assert.equal(verifyCsrfToken(s, token), true);
        assert.equal(verifyCsrfToken(s, again), true);
        const cookie = cookieOf(await sessions.commit(s));
        const next = await sessions.load(cookie);
        current = next;
        assert.equal(verifyCsrfToken(next, token), true, 'kept in the session');
        assert.equal(verifyCsrfToken(next, next.csrfToken()), true);
        for (const bad of [undefined, '', `${token.slice(0, -2)}xx`, token.slice(1), `${token}A`, 42])
          assert.equal(verifyCsrfToken(next, bad), false);
        const other = await sessions.load();
        const othersToken = other.csrfToken();
        assert.equal(verifyCsrfToken(next, othersToken), false, "another session's token");
        assert.equal(verifyCsrfToken(other, token), false);
        assert.deepEqual(post(token), { ok: true });
        for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
          const verdict = checkCsrf(next, { method, protocol: 'http', host: 'shop.example', header: () => undefined }, options);
          assert.equal((verdict as CsrfVerdict).ok === false && (verdict as { reason: string }).reason, 'token', method);
        }
        assert.equal(
          (checkCsrf(next, { method: 'get', protocol: 'http', host: 'shop.example', header: () => undefined }, options) as CsrfVerdict).ok,
          true,
        );
        const foreign = post(token, { origin: 'https://evil.example' });
        assert.equal(foreign.ok === false && foreign.reason, 'origin', 'the right token from another origin');
        assert.equal(post(undefined, { origin: 'http://shop.example' }).ok, true, 'its own origin needs no token');
        assert.equal(post(undefined, { referer: 'http://shop.example/cart' }).ok, false, 'Referer is not used');
        await next.login(newUser());
        const rotated = next.csrfToken();
        assert.equal(verifyCsrfToken(next, token), false, 'login replaces the secret');
        assert.equal(verifyCsrfToken(next, rotated), true);
      });

      it('CSRF: right after login the session holds a secret, so a POST with neither header needs a token', async () => {
        const s = await sessions.load();
        await s.login(newUser());
        const verdict = checkCsrf(
          s,
          { method: 'POST', protocol: 'http', host: 'shop.example', header: () => undefined },
          resolveCsrfOptions(),
        );
        assert.equal((verdict as CsrfVerdict).ok, false);
      });

      it('a store without a user index refuses listing, revoking and the options that need it', async (ctx) => {
        if (indexed()) {
          for (const m of ['listByUser', 'revoke', 'touch'] as const) assert.equal(typeof server()[m], 'function', m);
          return;
        }
        if (serverSide() && !options.noUserIndex) {
          const reason = (t.store as { noUserIndex?: string }).noUserIndex;
          assert.ok(reason, 'a server-side store without a user index says why (noUserIndex)');
        }
        await assert.rejects(sessions.listUserSessions('u'), (err: unknown) => err instanceof ConfigError && err.option === 'store');
        await assert.rejects(sessions.revokeSession(digestKey('x')), ConfigError);
        await assert.rejects(sessions.revokeUserSessions('u'), ConfigError);
        assert.throws(
          () => make({ idleTimeout: 600 }),
          (err: unknown) => err instanceof ConfigError && err.option === 'idleTimeout',
        );
        assert.throws(
          () => make({ maxSessionsPerUser: 3 }),
          (err: unknown) => err instanceof ConfigError && err.option === 'maxSessionsPerUser',
        );
        ctx.diagnostic('refused, as this store has no user index');
      });
    });

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

      it('flashes from parallel requests all survive, and reading one keeps the others', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
        const cookie = await saved((s) => s.set('base', 0));
        const loaded = await Promise.all([sessions.load(cookie), sessions.load(cookie), sessions.load(cookie)]);
        for (const [i, s] of loaded.entries()) s.flash(`m${i}`, i);
        await Promise.all(loaded.map((s) => sessions.commit(s)));
        const first = await sessions.load(cookie);
        assert.equal(first.get('m1'), 1);
        await sessions.commit(first);
        const second = await sessions.load(cookie);
        assert.deepEqual([second.get('m0'), second.get('m1'), second.get('m2')], [0, undefined, 2]);
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

      it('500 parallel modify appends on one session in one process leave 500 items', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store cannot merge: last cookie wins');
        const cookie = await saved((s) => s.set('cart', []));
        const loaded = await Promise.all(Array.from({ length: 500 }, () => sessions.load(cookie)));
        for (const [i, s] of loaded.entries()) s.modify('cart', (cart) => [...(cart ?? []), i]);
        const results = await Promise.allSettled(loaded.map((s) => sessions.commit(s)));
        assert.deepEqual(
          results.filter((r) => r.status === 'rejected'),
          [],
          'no commit gives up',
        );
        const cart = (await sessions.load(cookie)).get('cart') as number[];
        assert.equal(cart.length, 500);
        assert.deepEqual(
          [...cart].sort((a, b) => a - b),
          Array.from({ length: 500 }, (_, i) => i),
        );
      });

      it('a stored session nested deeper than the limit loads as corrupt (logged) and never blocks later saves', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has no stored rows (see its own test)');
        let deep: unknown = 'bottom';
        for (let i = 0; i < MAX_DEPTH + 50; i++) deep = { d: deep };
        const cookie = await saved((s) => s.set('x', 1));
        const before = logger.records.length;
        assert.equal(
          await server()
            .update(keyOf(cookie), { deep }, clock + 60_000, (await server().load(keyOf(cookie), clock))!.version, clock)
            .then((r) => r.status),
          'ok',
        );
        const s = await sessions.load(cookie);
        assert.equal(s.get('deep'), undefined);
        assert.ok(logger.records.slice(before).some((r) => r.level === 'warn' && /deeper than/.test(r.message)));
        s.set('after', true);
        assert.equal(keyOf(cookieOf(await sessions.commit(s))), keyOf(cookie));
        assert.deepEqual(Object.fromEntries((await sessions.load(cookie)).entries()), { after: true });
      });

      it('maxSize: a session over it is refused at commit, before anything is written', async (ctx) => {
        if (!serverSide()) return ctx.skip('the cookie store has its own, smaller, limit');
        const small = make({ maxSize: 2000 });
        const cookie = await saved((s) => s.set('x', 'kept'), small);
        const s = await small.load(cookie);
        s.set('x', 'é'.repeat(1000)); // 2000 bytes of UTF-8 in 1000 characters
        await assert.rejects(
          small.commit(s),
          (err: unknown) =>
            err instanceof SessionDataError && /\d{4} bytes/.test(err.message) && /maxSize \(2000 bytes\)/.test(err.message),
        );
        assert.equal((await small.load(cookie)).get('x'), 'kept', 'the stored session is unchanged');
        const fresh = await small.load();
        fresh.set('x', 'y'.repeat(3000));
        const count = (await server().stats(clock)).count;
        await assert.rejects(small.commit(fresh), SessionDataError);
        assert.equal((await server().stats(clock)).count, count, 'no row was created');
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

    // Only a store that answers synchronously has twins: on the others the whole section does not
    // apply, and is skipped once, with that reason, rather than case by case.
    const sync = { skip: options.synchronous ? false : 'this store answers asynchronously: it has no synchronous twins' };
    describe('synchronous twins (loadSync, updateSync)', sync, () => {
      /** The store's twins, or null when it has none (then the cases are skipped, unless options.synchronous says it must have them). */
      const twins = () => {
        if (!serverSide()) return null;
        const store = server();
        return typeof store.loadSync === 'function' && typeof store.updateSync === 'function' ? store : null;
      };
      /** The same calls, awaited (`load`, `update`) or answered at once (`loadSync`, `updateSync`). */
      type Calls = Pick<SessionStore, 'load' | 'update'>;
      const awaited = (): Calls => server();
      const atOnce = (): Calls => {
        const store = twins()!;
        return {
          load: async (key, now) => store.loadSync!(key, now),
          update: async (key, data, expiresAt, version, now) => store.updateSync!(key, data, expiresAt, version, now),
        };
      };
      /** Runs `scenario` once with load/update and once with the twins, on fresh keys; the two transcripts must be equal. */
      const same = async (scenario: (calls: Calls, key: string) => Promise<unknown[]>): Promise<unknown[]> => {
        const viaAwait = await scenario(awaited(), newSessionKey());
        const viaTwins = await scenario(atOnce(), newSessionKey());
        assert.deepEqual(viaTwins, viaAwait, 'loadSync/updateSync answer as load/update');
        return viaAwait;
      };
      /** A loaded record without what depends on the key. */
      const view = (found: Awaited<ReturnType<SessionStore['load']>>) =>
        found && { data: found.data, expiresAt: found.expiresAt, lastSeenAt: found.lastSeenAt ?? null };

      it('a store that answers synchronously has both twins, and the engine answers a request through them without a promise', async (ctx) => {
        if (!options.synchronous) return ctx.skip('this store answers asynchronously');
        const store = twins();
        assert.ok(store, 'the store has loadSync and updateSync');
        const cookie = await saved((s) => s.set('n', 1));
        const s = loadForRequest(sessions, { headers: { cookie } });
        assert.ok(!(s instanceof Promise), 'the load took no promise');
        s.set('n', (s.get('n') as number) + 1);
        const committed = sessions.commitResponse(s, { status: 200 });
        assert.ok(!(committed instanceof Promise), 'the commit took no promise');
        assert.equal((await sessions.load(cookie)).get('n'), 2);
      });

      it('loadSync answers as load: absent, live, at and after its expiry', async (ctx) => {
        if (!twins()) return ctx.skip('the store has no synchronous twins');
        const store = server();
        const until = clock + 60_000;
        const transcript = await same(async (calls, key) => {
          const absent = await calls.load(key, clock);
          const v = await store.create(key, { a: 1, nested: { list: [1, 'two', null] } }, until, clock - 5);
          return [
            absent,
            v !== null,
            ...(await Promise.all([until - 1, until, until + 1].map(async (at) => view(await calls.load(key, at))))),
          ];
        });
        assert.deepEqual(transcript.slice(0, 2), [null, true]);
        assert.deepEqual((transcript[2] as { data: unknown }).data, { a: 1, nested: { list: [1, 'two', null] } });
        assert.deepEqual(transcript.slice(3), [null, null], 'expired at its expiry instant');
      });

      it('updateSync answers as update: ok with the next version, conflict on a stale one, missing once expired or deleted, never reviving', async (ctx) => {
        if (!twins()) return ctx.skip('the store has no synchronous twins');
        const store = server();
        const until = clock + 60_000;
        const later = clock + 120_000;
        const result = (r: UpdateResult, version: number | null) =>
          r.status === 'ok' ? { status: 'ok', isNext: r.version === version } : r;
        const transcript = await same(async (calls, key) => {
          const v1 = (await store.create(key, { step: 1 }, until, clock))!;
          const ok = await calls.update(key, { step: 2 }, later, v1, clock + 10);
          const v2 = (await store.load(key, clock + 10))!.version;
          const afterOk = view(await calls.load(key, clock + 10));
          const stale = await calls.update(key, { step: 'stale' }, later, v1, clock + 20);
          const afterStale = view(await calls.load(key, clock + 20));
          const ok2 = await calls.update(key, { step: 3 }, later, v2, clock + 30);
          const v3 = (await store.load(key, clock + 30))!.version;
          const expired = await calls.update(key, { step: 'late' }, later + 60_000, v3, later);
          const notRevived = view(await calls.load(key, later));
          const stillThere = view(await calls.load(key, clock + 40));
          await store.delete(key);
          const deleted = await calls.update(key, { step: 'gone' }, later, v3, clock + 50);
          return [
            result(ok, v2),
            afterOk,
            stale,
            afterStale,
            result(ok2, v3),
            v2 !== v1 && v3 !== v2,
            expired,
            notRevived,
            stillThere,
            deleted,
            await store.exists(key),
          ];
        });
        assert.deepEqual(transcript[0], { status: 'ok', isNext: true });
        assert.deepEqual((transcript[1] as { data: unknown }).data, { step: 2 });
        assert.equal((transcript[1] as { expiresAt: number }).expiresAt, later);
        assert.deepEqual(transcript[2], { status: 'conflict' });
        assert.deepEqual((transcript[3] as { data: unknown }).data, { step: 2 }, 'a conflict writes nothing');
        assert.deepEqual(transcript.slice(4, 8), [{ status: 'ok', isNext: true }, true, { status: 'missing' }, null]);
        assert.deepEqual((transcript[8] as { data: unknown }).data, { step: 3 });
        assert.deepEqual(transcript.slice(9), [{ status: 'missing' }, false]);
      });

      it('updateSync keeps the last-seen time and the user index as update does', async (ctx) => {
        if (!twins()) return ctx.skip('the store has no synchronous twins');
        if (options.noUserIndex || !server().listByUser || (server() as { noUserIndex?: string }).noUserIndex)
          return ctx.skip('the store has no user index');
        const store = server();
        const until = clock + 60_000;
        const user = `twin-user-${newSessionKey()}`;
        const signed = (data: SessionData, who: string) => ({ ...data, [META_KEY]: { since: clock, user: who } });
        const listed = async (who: string, key: string) => (await store.listByUser!(who, clock + 100)).map((u) => u.id === digestKey(key));
        const transcript = await same(async (calls, key) => {
          const v1 = (await store.create(key, { a: 1 }, until, clock))!;
          const before = await listed(user, key);
          await calls.update(key, signed({ a: 2 }, user), until, v1, clock + 10);
          const v2 = (await store.load(key, clock + 10))!.version;
          const seen = (await calls.load(key, clock + 10))?.lastSeenAt ?? null;
          const signedIn = await listed(user, key);
          await calls.update(key, signed({ a: 3 }, user), until, v2, clock + 20); // the same user again
          const v3 = (await store.load(key, clock + 20))!.version;
          const same = await listed(user, key);
          await calls.update(key, signed({ a: 4 }, `${user}-other`), until, v3, clock + 30);
          const v4 = (await store.load(key, clock + 30))!.version;
          const moved = [await listed(user, key), await listed(`${user}-other`, key)];
          await calls.update(key, { a: 5 }, until, v4, clock + 40); // signed out
          const out = [await listed(user, key), await listed(`${user}-other`, key)];
          const last = view(await calls.load(key, clock + 40));
          await store.delete(key);
          return [before, seen === clock + 10, signedIn, same, moved, out, last];
        });
        assert.deepEqual(transcript.slice(0, 6), [[], true, [true], [true], [[], [true]], [[], []]]);
        assert.deepEqual(transcript[6], { data: { a: 5 }, expiresAt: until, lastSeenAt: clock + 40 });
      });

      it('a corrupt record reads as empty through loadSync, logged, and updateSync overwrites it', async (ctx) => {
        if (!twins() || !t.corrupt) return ctx.skip('no synchronous twins, or no way to corrupt this store');
        const store = server();
        const until = clock + 60_000;
        const transcript = await same(async (calls, key) => {
          await store.create(key, { x: 1 }, until, clock);
          await t.corrupt!(key);
          const before = logger.records.length;
          const found = await calls.load(key, clock);
          const logged = logger.records.length > before;
          const written = await calls.update(key, { y: 2 }, until, found!.version, clock);
          return [found?.data, logged, written.status, view(await calls.load(key, clock))?.data];
        });
        assert.deepEqual(transcript, [{}, true, 'ok', { y: 2 }]);
      });
    });
  });
}
