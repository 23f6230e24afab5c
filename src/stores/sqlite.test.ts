import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { loadForRequest } from '../core/sessions.js';
import { createSessions } from '../index.js';
import { describeStore } from '../testing/store-suite.js';
import { fillExpired, scratchDir } from '../../test/support/sqlite-fill.js';
import { watchEventLoop } from '../../test/support/event-loop.js';
import { jsonCodec, parseTable, SESSIONKIT_TABLE, SqlStore, schemaSql } from './sql/engine.js';
import { loadSqliteDriver, SQLITE, type SqliteConnection, sqliteDriver } from './sql/sqlite.js';
import { SqliteStore } from './sqlite.js';
import { SYNC, syncFacetOf } from '../core/store.js';

const dir = mkdtempSync(join(tmpdir(), 'sessionkit-sqlite-'));
const path = join(dir, 'sessions.sqlite3');

describeStore('SqliteStore', {
  synchronous: true,
  setup(logger) {
    const store = new SqliteStore({ path, logger });
    // A second connection to the same file: what another process sees.
    const peer = new SqliteStore({ path, logger });
    const raw = new Database(path);
    return {
      store,
      peer,
      corrupt: async (key) => {
        raw.prepare('UPDATE sessionkit_sessions SET data = ? WHERE key_hash = ?').run('\u0000garbage', digestKey(key));
      },
      dumpAtRest: async () => JSON.stringify(raw.prepare('SELECT * FROM sessionkit_sessions').all()),
      close: async () => {
        raw.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

/** The same store with its synchronous facet hidden: the engine then awaits load and update, the path a busy database falls back to. */
function awaitedOnly<T extends object>(store: T): T {
  return new Proxy(store, {
    get(target, name) {
      if (name === SYNC) return undefined;
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const awaitedDir = mkdtempSync(join(tmpdir(), 'sessionkit-sqlite-awaited-'));
const awaitedPath = join(awaitedDir, 'sessions.sqlite3');

describeStore('SqliteStore, awaited (synchronous facet hidden)', {
  setup(logger) {
    const store = new SqliteStore({ path: awaitedPath, logger });
    const raw = new Database(awaitedPath);
    return {
      store: awaitedOnly(store),
      peer: awaitedOnly(new SqliteStore({ path: awaitedPath, logger })),
      corrupt: async (key) => {
        raw.prepare('UPDATE sessionkit_sessions SET data = ? WHERE key_hash = ?').run('\u0000garbage', digestKey(key));
      },
      dumpAtRest: async () => JSON.stringify(raw.prepare('SELECT * FROM sessionkit_sessions').all()),
      close: async () => {
        raw.close();
        rmSync(awaitedDir, { recursive: true, force: true });
      },
    };
  },
});

/** A SqlStore configured as SqliteStore is, over a connection the test holds. */
function storeOver(connection: SqliteConnection): SqlStore {
  class Store extends SqlStore {
    constructor() {
      super({
        driver: sqliteDriver(connection, { lockTimeout: 2000 }),
        shape: SESSIONKIT_TABLE,
        table: parseTable('sessionkit_sessions', ''),
        codec: jsonCodec(console, 'test'),
        label: 'SQLite',
        createTable: false,
        missingTable: '',
      });
    }
  }
  return new Store();
}

describe('SqliteStore synchronous twins and locks', () => {
  const d = mkdtempSync(join(tmpdir(), 'sessionkit-sqlite-twins-'));
  after(() => rmSync(d, { recursive: true, force: true }));
  const until = () => Date.now() + 60_000;

  /** Another connection to the file holding its write lock (BEGIN IMMEDIATE and a write), until released. */
  const holdWriteLock = (file: string) => {
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    other.prepare("INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version) VALUES ('held', '{}', 0, 1)").run();
    return () => {
      other.exec('ROLLBACK');
      other.close();
    };
  };

  it('is a private facet: no loadSync or updateSync on the store, the facet reached through syncFacetOf, also through a Proxy', async () => {
    const store = new SqliteStore({ path: join(d, 'facet.sqlite3') });
    assert.equal('loadSync' in store, false);
    assert.equal('updateSync' in store, false);
    const facet = syncFacetOf(store);
    assert.ok(facet, 'a SqliteStore has its synchronous facet');
    const wrapped = new Proxy(store, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    assert.equal(syncFacetOf(wrapped), facet);
    const key = newSessionKey();
    const v1 = (await store.create({ key, data: { n: 1 }, expiresAt: until() }))!;
    const { load, update } = facet; // bound to the store
    assert.deepEqual(load(key, Date.now())?.data, { n: 1 });
    assert.deepEqual(update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v1 + 1 }), { status: 'conflict' });
    assert.deepEqual(update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v1 }), { status: 'ok', version: v1 + 1 });
    assert.deepEqual((await store.load(key))?.data, { n: 2 });
    await store.close();
  });

  it('while another connection holds the write lock: the synchronous load reads the last committed record, the synchronous update writes nothing and answers conflict at once', async () => {
    const file = join(d, 'held.sqlite3');
    const store = new SqliteStore({ path: file });
    const key = newSessionKey();
    const v1 = (await store.create({ key, data: { n: 1 }, expiresAt: until() }))!;
    const release = holdWriteLock(file);
    try {
      assert.deepEqual(syncFacetOf(store)!.load(key, Date.now())?.data, { n: 1 }, 'a WAL reader waits for no writer');
      const started = performance.now();
      assert.deepEqual(syncFacetOf(store)!.update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v1 }), {
        status: 'conflict',
      });
      const took = performance.now() - started;
      assert.ok(took < 200, `the synchronous update waited ${took.toFixed(0)} ms (SQLite's own wait is 10 ms)`);
    } finally {
      release();
    }
    const kept = await store.load(key);
    assert.deepEqual([kept?.data, kept?.version], [{ n: 1 }, v1], 'nothing was written');
    assert.deepEqual(
      syncFacetOf(store)!.update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v1 }),
      { status: 'ok', version: v1 + 1 },
      'the lock gone, the same write goes through',
    );
    await store.close();
  });

  it('a request saved while another connection holds the write lock goes on in update, which waits on a timer, and saves once the lock is released', async () => {
    const file = join(d, 'commit.sqlite3');
    const store = new SqliteStore({ path: file });
    const sessions = createSessions({ store });
    const fresh = await sessions.load();
    fresh.set('n', 1);
    const cookie = (await sessions.commit(fresh))!.split(';')[0]!;
    const s = loadForRequest(sessions, { headers: { cookie } });
    assert.ok(!(s instanceof Promise), 'loaded without a promise, the lock notwithstanding');
    const release = holdWriteLock(file);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 2);
    s.set('n', 2);
    let committed: unknown;
    try {
      committed = sessions.commitResponse(s, { status: 200 });
      assert.ok(committed instanceof Promise, 'the write could not go through at once: it waits in update');
      while (ticks < 20) await new Promise((r) => setTimeout(r, 5)); // the event loop runs while it waits
    } finally {
      clearInterval(ticker);
      release();
    }
    await committed;
    const after = await store.load(cookie.slice(cookie.indexOf('=') + 1));
    assert.deepEqual(after?.data, { n: 2 });
    assert.equal(after?.version, 2, 'written once, as the same compare-and-set: no merge, no reload');
    await sessions.close();
  });

  it('a read kept out by a lock (SQLITE_BUSY, as under another connection in locking_mode=EXCLUSIVE): the synchronous load throws StoreUnavailableError at once, load waits on a timer', async () => {
    // A real WAL file cannot keep a reader out while this store has it open (an exclusive lock
    // needs every other connection gone), so the driver's statements are made to fail as SQLite does.
    const db = new Database(':memory:');
    db.exec(schemaSql(SQLITE, SESSIONKIT_TABLE, parseTable('sessionkit_sessions', '')));
    let locked = false;
    const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const connection: SqliteConnection = {
      exec: (sql) => db.exec(sql),
      close: () => db.close(),
      prepare(sql) {
        const statement = db.prepare(sql);
        const guard =
          <A extends unknown[], R>(fn: (...args: A) => R) =>
          (...args: A): R => {
            if (locked) throw busy();
            return fn(...args);
          };
        return {
          all: guard((...p) => statement.all(...p)),
          get: guard((...p) => statement.get(...p)),
          run: guard((...p) => statement.run(...p)),
        };
      },
    };
    const store = storeOver(connection);
    const key = newSessionKey();
    const v = (await store.create({ key, data: { n: 1 }, expiresAt: until() }))!;
    locked = true;
    assert.throws(
      () => syncFacetOf(store)!.load(key, Date.now()),
      (e: unknown) =>
        e instanceof StoreUnavailableError &&
        /^sessionkit: SQLite load failed: database is locked: .*locking_mode=EXCLUSIVE/.test(e.message),
    );
    assert.deepEqual(syncFacetOf(store)!.update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v }), { status: 'conflict' });
    const waiting = store.load(key);
    setTimeout(() => (locked = false), 30);
    assert.deepEqual((await waiting)?.data, { n: 1 }, 'load retried until the lock went, and nothing was written meanwhile');
    await store.close();
    db.close();
  });

  it('a closed store and a dropped table fail the twins with the StoreUnavailableError load and update give', async () => {
    const file = join(d, 'errors.sqlite3');
    const store = new SqliteStore({ path: file });
    const key = newSessionKey();
    const v = (await store.create({ key, data: { n: 1 }, expiresAt: until() }))!;
    const raw = new Database(file);
    raw.exec('DROP TABLE sessionkit_sessions');
    raw.close();
    const message = async (p: Promise<unknown>) =>
      p.then(
        () => 'no error',
        (e: unknown) => (e instanceof StoreUnavailableError ? e.message : `not StoreUnavailableError: ${e}`),
      );
    const thrown = (fn: () => unknown) => message(Promise.resolve().then(fn));
    assert.match(await message(store.load(key)), /table is missing/);
    assert.equal(await thrown(() => syncFacetOf(store)!.load(key, Date.now())), await message(store.load(key)));
    assert.equal(
      await thrown(() => syncFacetOf(store)!.update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v })),
      await message(store.update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v })),
    );
    await store.close();
    assert.match(await message(store.load(key)), /closed/);
    assert.equal(await thrown(() => syncFacetOf(store)!.load(key, Date.now())), await message(store.load(key)));
    assert.equal(
      await thrown(() => syncFacetOf(store)!.update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v })),
      await message(store.update({ key, data: { n: 2 }, expiresAt: until(), expectedVersion: v })),
    );
  });
});

describe('SqliteStore specifics', () => {
  it('creates the file, its folder, the table and an index on expiry', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sessionkit-sqlite-'));
    const file = join(d, 'nested', 'dir', 's.sqlite3');
    const store = new SqliteStore({ path: file });
    await store.close();
    const db = new Database(file);
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessionkit_sessions'").all() as {
      name: string;
    }[];
    assert.ok(indexes.some((i) => i.name.includes('expires_at')));
    assert.equal((db.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
    db.close();
    rmSync(d, { recursive: true, force: true });
  });

  it('rejects a table name that is not an identifier', () => {
    assert.throws(() => new SqliteStore({ path: ':memory:', table: 'x; DROP TABLE y' }), ConfigError);
  });

  it('a file that cannot be opened is StoreUnavailableError', () => {
    assert.throws(() => new SqliteStore({ path: '/etc/hostname/not-a-folder/s.sqlite3' }), StoreUnavailableError);
  });

  it('a closed database reports StoreUnavailableError, not a crash', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.close();
    await assert.rejects(store.load('a'.repeat(32)), StoreUnavailableError);
  });
});

describe('SqliteStore drivers', () => {
  const fail = () => {
    throw new Error('not on this runtime');
  };
  const none = { 'better-sqlite3': fail, 'node:sqlite': fail, 'bun:sqlite': fail };

  it('with no SQLite driver on the runtime, the store refuses with a ConfigError that says what to install', () => {
    assert.throws(
      () => loadSqliteDriver(undefined, none),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.option === 'driver' &&
        /npm install better-sqlite3/.test(e.message) &&
        /node:sqlite/.test(e.message) &&
        /bun:sqlite/.test(e.message),
    );
  });

  it('a driver the runtime lacks, or one sessionkit does not know, is a ConfigError at construction', () => {
    // This runtime is Node.js 20 with better-sqlite3 installed: no bun:sqlite here.
    assert.throws(
      () => new SqliteStore({ path: ':memory:', driver: 'bun:sqlite' }),
      (e: unknown) => e instanceof ConfigError && e.option === 'driver' && /bun:sqlite needs Bun/.test(e.message),
    );
    assert.throws(() => new SqliteStore({ path: ':memory:', driver: 'sqlite3' as never }), ConfigError);
    assert.equal(loadSqliteDriver().name, 'better-sqlite3', 'better-sqlite3 first on Node.js when it is installed');
  });
});

describe('SqliteStore driver errors name the cause', () => {
  const failing = (err: unknown) => ({
    'better-sqlite3': () => {
      throw err;
    },
    'node:sqlite': () => {
      throw new Error('No such built-in module: node:sqlite');
    },
    'bun:sqlite': () => {
      throw new Error('Cannot find module bun:sqlite');
    },
  });
  const cases: [string, unknown, RegExp][] = [
    [
      'not installed',
      Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' }),
      /better-sqlite3 is not installed: npm install better-sqlite3/,
    ],
    [
      'not built',
      new Error('Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node'),
      /not built.*pnpm approve-builds/,
    ],
    [
      'built for another Node.js',
      new Error(
        'The module was compiled against a different Node.js version using NODE_MODULE_VERSION 127. This version of Node.js requires NODE_MODULE_VERSION 115.',
      ),
      /built for another Node\.js version.*npm rebuild better-sqlite3/,
    ],
    [
      'inside a bundle (Turbopack)',
      new Error('dynamic usage of require is not supported'),
      /cannot be loaded inside this server bundle.*serverExternalPackages: \['sessionkit'\]/,
    ],
  ];
  for (const [cause, err, message] of cases) {
    it(`${cause}: the ConfigError says so, and the fix`, () => {
      assert.throws(
        () => loadSqliteDriver(undefined, failing(err)),
        (e: unknown) => e instanceof ConfigError && e.option === 'driver' && message.test(e.message),
      );
      assert.throws(
        () => loadSqliteDriver('better-sqlite3', failing(err)),
        (e: unknown) => e instanceof ConfigError && message.test(e.message),
      );
    });
  }
});

describe('SqliteStore clearExpired in batches', () => {
  /** Adds `count` expired rows with one expiry and keys in order: a batch then writes few pages, as after a burst of one day's sessions. */
  const fillInOrder = (file: string, count: number, now: number) => {
    const db = new Database(file);
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version) SELECT printf('expired%057d', i), '{"count":1}', ?, 1 FROM n`,
    ).run(count, now - 1000);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  };

  it('checkpoints the write-ahead log between batches, never a log of 1000 pages inside one: the log stays under 3 MB while 100,000 rows go', async () => {
    const d = scratchDir('sessionkit-sqlite-');
    const file = join(d, 's.sqlite3');
    const store = new SqliteStore({ path: file });
    const now = Date.now();
    fillInOrder(file, 100_000, now);
    let largest = 0;
    const sample = setInterval(() => {
      largest = Math.max(largest, statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    }, 1);
    try {
      assert.equal(await store.clearExpired(now), 100_000);
    } finally {
      clearInterval(sample);
    }
    largest = Math.max(largest, statSync(`${file}-wal`).size);
    // SQLite's automatic checkpoint lets the log grow to 1000 pages (4 MB) before copying it back;
    // clearExpired's own aim at 256 pages (1 MB), overshooting at most twice as batches grow.
    assert.ok(largest < 3 * 1024 * 1024, `the log grew to ${(largest / 1024).toFixed(0)} KiB`);
    await store.close();
    rmSync(d, { recursive: true, force: true });
  });

  it("turns the connection's automatic checkpoint off while it clears, and back to what it was after, also when clears overlap", async () => {
    const d = scratchDir('sessionkit-sqlite-');
    const file = join(d, 's.sqlite3');
    await new SqliteStore({ path: file }).close();
    const now = Date.now();
    fillInOrder(file, 5_000, now);
    const db = new Database(file);
    db.pragma('wal_autocheckpoint = 500');
    const store = storeOver(db as unknown as SqliteConnection);
    const seen = new Set<number>();
    const sample = setInterval(() => seen.add(Number(db.pragma('wal_autocheckpoint', { simple: true }))), 1);
    try {
      const [a, b] = await Promise.all([store.clearExpired(now), store.clearExpired(now)]);
      assert.equal(a + b, 5_000);
    } finally {
      clearInterval(sample);
    }
    assert.ok(seen.has(0), `automatic checkpoint seen during the clear: ${[...seen].join(', ')}`);
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 500);
    await store.close();
    db.close();
    rmSync(d, { recursive: true, force: true });
  });
  it('clears 100,000 expired rows in batches, never holding the event loop for anything like one big delete, and keeps the live ones', async (t) => {
    const d = scratchDir('sessionkit-sqlite-');
    const file = join(d, 's.sqlite3');
    const store = new SqliteStore({ path: file });
    const now = Date.now();
    const live = [newSessionKey(), newSessionKey()];
    for (const key of live) await store.create({ key, data: { live: true }, expiresAt: now + 60_000, now });
    fillExpired(file, 100_000, now);
    const watch = watchEventLoop();
    const started = performance.now();
    const removed = await store.clearExpired(now);
    const took = performance.now() - started;
    const { heldMs, cpuMs, delayMs } = watch.stop();
    t.diagnostic(
      `removed ${removed} in ${took.toFixed(0)} ms; at most ${cpuMs.toFixed(1)} ms of CPU between two timer runs, held ${heldMs.toFixed(1)} ms (monitorEventLoopDelay max ${delayMs.toFixed(1)} ms)`,
    );
    assert.equal(removed, 100_000);
    assert.deepEqual((await store.stats(now)).count, 2);
    for (const key of live) assert.ok(await store.load(key, now));
    // Deleting is CPU work here (the file is on tmpfs): the CPU the loop spent between two timer
    // runs is what it held them up for. A batch takes about 10 ms; one DELETE of all 100,000 rows
    // takes about 150 ms of CPU here. The bound leaves room for a loaded CI machine (the 50 ms goal
    // itself is measured by `npm run bench -- memory`, not here).
    assert.ok(cpuMs < 100, `the event loop worked ${cpuMs.toFixed(1)} ms at once`);
    await store.close();
    rmSync(d, { recursive: true, force: true });
  });
});
