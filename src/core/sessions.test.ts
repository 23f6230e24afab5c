import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createSessions, createStore, ConfigError, MemoryStore, SessionDataError, SqliteStore, StoreUnavailableError } from '../index.js';
import { isWellFormedKey, newSessionKey } from './keys.js';
import type { StoreCreate } from './store.js';

describe('createSessions options', () => {
  const store = new MemoryStore();
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['cookie.maxAge zero', { cookie: { maxAge: 0 } }, /cookie\.maxAge/],
    ['cookie.maxAge fractional', { cookie: { maxAge: 1.5 } }, /cookie\.maxAge/],
    ['cookie.maxAge a string', { cookie: { maxAge: '60' } }, /cookie\.maxAge/],
    ['cookie.name with a space', { cookie: { name: 'my session' } }, /cookie\.name/],
    ['cookie.sameSite unknown', { cookie: { sameSite: 'sometimes' } }, /cookie\.sameSite/],
    ['cookie.sameSite none without secure', { cookie: { sameSite: 'none' } }, /cookie\.sameSite/],
    ['cookie.path without a slash', { cookie: { path: 'app' } }, /cookie\.path/],
    ['cookie.domain with a semicolon', { cookie: { domain: 'a.com; x' } }, /cookie\.domain/],
    ['cookie.partitioned without secure', { cookie: { partitioned: true } }, /cookie\.partitioned/],
    ['an unknown cookie option', { cookie: { maxage: 10 } }, /cookie\.maxage/],
    ['saveEveryRequest not a boolean', { saveEveryRequest: 'yes' }, /saveEveryRequest/],
    ['an unknown option', { saveEveryRequests: true }, /saveEveryRequests/],
    ['a store that is not a store', { store: {} }, /store/],
    ...['..', '.', '-', 'a..b', '.example.com.', 'exa mple.com', '-a.com', 'a-.com', `${'a'.repeat(64)}.com`].map(
      (domain): [string, Record<string, unknown>, RegExp] => [
        `cookie.domain ${JSON.stringify(domain)}`,
        { cookie: { domain } },
        /cookie\.domain/,
      ],
    ),
    ['cookie.path with a non-ASCII character', { cookie: { path: '/é' } }, /cookie\.path/],
    ['cookie.path with a control character', { cookie: { path: '/a\tb' } }, /cookie\.path/],
    ['cookie.maxAge 1e308', { cookie: { maxAge: 1e308 } }, /cookie\.maxAge/],
    ['cookie.maxAge beyond what Expires carries', { cookie: { maxAge: 8.64e12 } }, /cookie\.maxAge/],
    ['maxSize zero', { maxSize: 0 }, /maxSize/],
    ['maxSize fractional', { maxSize: 1.5 }, /maxSize/],
    ['maxSize a string', { maxSize: '1mb' }, /maxSize/],
    ['a logger without error()', { logger: { warn() {} } }, /logger/],
  ];
  for (const [why, options, option] of bad) {
    it(`rejects ${why} with a ConfigError naming the option`, () => {
      assert.throws(
        () => createSessions({ store, ...options } as never),
        (err: unknown) =>
          err instanceof ConfigError && err.code === 'CONFIG' && option.test(err.message) && err.message.startsWith('sessionkit:'),
      );
    });
  }

  it('accepts real domains: a host, a leading dot, digits, hyphens inside labels', () => {
    for (const domain of ['example.com', '.example.com', 'a-b.example.co.uk', 'localhost', '127.0.0.1', 'xn--caf-dma.example']) {
      assert.equal(createSessions({ store, cookie: { domain } }).cookieName, 'sessionid');
    }
  });

  it('accepts every documented option', () => {
    const s = createSessions({
      store,
      cookie: {
        name: 'sessionid',
        maxAge: 1209600,
        domain: undefined,
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'none',
        partitioned: true,
      },
      saveEveryRequest: false,
      expireAtBrowserClose: false,
      maxSize: 1024 * 1024,
    });
    assert.equal(s.cookieName, 'sessionid');
  });

  it('defaults to a SqliteStore at ./sessions.sqlite3', async () => {
    const s = createSessions();
    assert.ok(s.store instanceof SqliteStore);
    await s.close();
    for (const f of ['sessions.sqlite3', 'sessions.sqlite3-wal', 'sessions.sqlite3-shm']) rmSync(f, { force: true });
  });
});

describe('load accepts anything carrying a Cookie header', () => {
  it('a web Request, node-style headers, a Headers object, a string, or nothing', async () => {
    const sessions = createSessions<{ n: number }>({ store: new MemoryStore() });
    const s = await sessions.load();
    s.set('n', 7);
    const cookie = (await sessions.commit(s))!.split(';')[0]!;
    const shapes = [
      new Request('http://x/', { headers: { cookie: `a=b; ${cookie}` } }),
      { headers: { cookie } },
      new Headers({ cookie }),
      cookie,
    ];
    for (const shape of shapes) assert.equal((await sessions.load(shape)).get('n'), 7);
    assert.equal((await sessions.load(undefined)).get('n'), undefined);
  });
});

describe('commit', () => {
  it('answers no header for an untouched or read-only session, and Set-Cookie for a write', async () => {
    const sessions = createSessions({ store: new MemoryStore() });
    assert.equal(await sessions.commit(await sessions.load()), null);
    const read = await sessions.load();
    read.get('x');
    assert.equal(await sessions.commit(read), null);
    const write = await sessions.load();
    write.set('x', 1);
    assert.match((await sessions.commit(write))!, /^sessionid=[a-z0-9]{32}; Max-Age=1209600; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/);
  });

  it('saves nothing for status 500 and above', async () => {
    const store = new MemoryStore();
    const sessions = createSessions({ store });
    const s = await sessions.load();
    s.set('x', 1);
    assert.equal(await sessions.commit(s, { status: 500 }), null);
    assert.equal(await sessions.commit(s, { status: 503 }), null);
    assert.equal((await store.stats()).count, 0);
    assert.ok(await sessions.commit(s, { status: 499 }));
  });

  it('an emptied session that keeps its key is saved, as Django does', async () => {
    const store = new MemoryStore();
    const sessions = createSessions({ store });
    const s = await sessions.load();
    s.set('foo', 'bar');
    const cookie = (await sessions.commit(s))!.split(';')[0]!;
    const again = await sessions.load(cookie);
    again.delete('foo');
    const header = await sessions.commit(again);
    assert.equal(header!.split(';')[0], cookie);
    assert.deepEqual((await store.load(cookie.split('=')[1]!))!.data, {});
  });

  it('a nested value changed into something JSON cannot hold is refused at commit', async () => {
    const sessions = createSessions({ store: new MemoryStore() });
    const s = await sessions.load();
    s.set('cart', []);
    await sessions.commit(s);
    s.get('cart').push(new Date());
    await assert.rejects(sessions.commit(s), SessionDataError);
  });

  it('modify re-runs on the fresh value when another request wrote first', async () => {
    const sessions = createSessions<{ n: number }>({ store: new MemoryStore() });
    const s = await sessions.load();
    s.set('n', 0);
    const cookie = (await sessions.commit(s))!.split(';')[0]!;
    const a = await sessions.load(cookie);
    const b = await sessions.load(cookie);
    assert.equal(
      a.modify('n', (n) => (n ?? 0) + 1),
      1,
    );
    assert.equal(
      b.modify('n', (n) => (n ?? 0) + 1),
      1,
    );
    await sessions.commit(a);
    await sessions.commit(b);
    assert.equal((await sessions.load(cookie)).get('n'), 2);
  });
});

describe('the session key', () => {
  it("is read-only, as Django's session_key", async () => {
    const sessions = createSessions({ store: new MemoryStore() });
    const s = await sessions.load();
    assert.throws(() => {
      (s as unknown as { key: string }).key = 'a'.repeat(32);
    }, TypeError);
    assert.equal(s.key, null);
  });
});

describe('new keys', () => {
  it('a new key that is already taken is retried with another', async () => {
    const taken: string[] = [];
    class CrowdedStore extends MemoryStore {
      override async create({ key, data, expiresAt }: StoreCreate): Promise<number | null> {
        if (taken.length < 3) {
          taken.push(key);
          return null;
        }
        return super.create({ key, data, expiresAt });
      }
    }
    const sessions = createSessions({ store: new CrowdedStore() });
    const s = await sessions.load();
    s.set('x', 1);
    const key = (await sessions.commit(s))!.split(';')[0]!.split('=')[1]!;
    assert.equal(taken.length, 3);
    assert.ok(!taken.includes(key));
  });
});

describe('keys', () => {
  it('are 32 characters of [a-z0-9], spread over the whole alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = newSessionKey();
      assert.ok(isWellFormedKey(k));
      for (const c of k) seen.add(c);
    }
    assert.equal(seen.size, 36);
  });
});

describe('createStore', () => {
  it('builds memory and sqlite stores from URLs', async () => {
    assert.ok(createStore('memory:') instanceof MemoryStore);
    const s = createStore('sqlite::memory:');
    assert.ok(s instanceof SqliteStore);
    await s.close();
  });

  it('rejects unknown schemes and empty paths with ConfigError', () => {
    for (const url of ['', 'mysql://x/y', 'sqlite:', 'nonsense']) assert.throws(() => createStore(url), ConfigError);
  });
});

describe('setExpiry takes only what a cookie can carry, and nothing is written before a value is refused', () => {
  class CountingStore extends MemoryStore {
    writes = 0;
    override async create(...a: Parameters<MemoryStore['create']>) {
      this.writes++;
      return super.create(...a);
    }
    override async update(...a: Parameters<MemoryStore['update']>) {
      this.writes++;
      return super.update(...a);
    }
  }

  it('seconds beyond the year 9999, an invalid or out-of-range Date, or not a number are a SessionDataError at setExpiry', async () => {
    const store = new CountingStore();
    const sessions = createSessions({ store });
    const s = await sessions.load();
    s.set('x', 1);
    for (const bad of [
      1e308,
      -1e308,
      8.64e12,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      new Date(Number.NaN),
      new Date(8.64e15),
      new Date(-1),
      '60',
    ] as never[]) {
      assert.throws(
        () => s.setExpiry(bad),
        (err: unknown) =>
          err instanceof SessionDataError && err.key === '_session_expiry' && err.message.startsWith('sessionkit: setExpiry'),
        String(bad),
      );
    }
    s.setExpiry(new Date(Date.UTC(9999, 11, 31)));
    s.setExpiry(3600);
    assert.equal(store.writes, 0);
    const header = (await sessions.commit(s))!;
    assert.match(header, /Max-Age=3600/);
    assert.equal(store.writes, 1);
  });

  it('the latest date a session may take still gives a valid Expires', async () => {
    const sessions = createSessions({ store: new MemoryStore() });
    const s = await sessions.load();
    s.set('x', 1);
    s.setExpiry(new Date(Date.UTC(9999, 11, 31, 23, 59, 59)));
    assert.match((await sessions.commit(s))!, /Expires=Fri, 31 Dec 9999 23:59:5\d GMT/);
  });

  it('a stored expiry beyond range (written elsewhere) is clamped: the save and the cookie never fail', async () => {
    const store = new MemoryStore();
    const sessions = createSessions({ store });
    const s = await sessions.load();
    s.set('x', 1);
    const pair = (await sessions.commit(s))!.split(';')[0]!;
    const key = pair.split('=')[1]!;
    store.putRaw(key, JSON.stringify({ x: 1, _session_expiry: 1e308 }), Date.now() + 60_000);
    const t = await sessions.load(pair);
    t.set('y', 2);
    assert.match((await sessions.commit(t))!, /Max-Age=\d+; Path=\/; Expires=\w{3}, \d\d \w{3} \d{4}/);
    assert.ok((await store.load(key))!.expiresAt <= Date.UTC(9999, 11, 31, 23, 59, 59));
  });
});

describe('a commit queued behind others of its session waits at most the store timeout plus a second', () => {
  /** A MemoryStore whose next update, once armed, waits for `release` and then answers (or fails). */
  function holdingStore(timeout: number) {
    const store = Object.assign(new MemoryStore(), { timeout });
    const update = store.update.bind(store);
    const gate = { armed: false, release: (_fail: boolean) => {} };
    store.update = async (...args: Parameters<MemoryStore['update']>) => {
      if (gate.armed) {
        gate.armed = false;
        const fail = await new Promise<boolean>((resolve) => {
          gate.release = resolve;
        });
        if (fail) throw new StoreUnavailableError('the store timed out');
      }
      return update(...args);
    };
    return { store, gate };
  }

  async function queued(timeout: number) {
    const { store, gate } = holdingStore(timeout);
    const sessions = createSessions({ store });
    const first = await sessions.load();
    first.set('n', 0);
    const cookie = (await sessions.commit(first))!.split(';')[0]!;
    gate.armed = true;
    const a = await sessions.load(cookie);
    a.set('a', 1);
    const b = await sessions.load(cookie);
    b.set('b', 1);
    const head = sessions.commit(a).then(
      () => null,
      (err: unknown) => err,
    );
    return { sessions, cookie, gate, head, second: sessions.commit(b) };
  }

  it('gives up when the queue makes no progress, writes nothing, and never applies it later', async () => {
    const { sessions, cookie, gate, head, second } = await queued(200);
    const started = Date.now();
    await assert.rejects(second, StoreUnavailableError);
    const waited = Date.now() - started;
    assert.ok(waited >= 1100 && waited < 3000, `waited ${waited} ms (timeout 200 ms + 1 s)`);
    gate.release(false);
    assert.equal(await head, null);
    const after = await sessions.load(cookie);
    assert.equal(after.get('a'), 1);
    assert.equal(after.get('b'), undefined, 'a commit answered 503 is never applied later');
  });

  it('gives up at once, writing nothing, when the commit before it failed for the store', async () => {
    const { sessions, cookie, gate, head, second } = await queued(60_000);
    setTimeout(() => gate.release(true), 50);
    const started = Date.now();
    await assert.rejects(second, StoreUnavailableError);
    assert.ok(Date.now() - started < 1000);
    assert.ok((await head) instanceof StoreUnavailableError);
    const after = await sessions.load(cookie);
    assert.equal(after.get('a'), undefined);
    assert.equal(after.get('b'), undefined);
  });
});
