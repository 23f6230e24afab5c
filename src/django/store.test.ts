import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startPostgres, type RunningPostgres } from '../../test/support/postgres.js';
import { ConfigError, SessionDataError, StoreUnavailableError } from '../core/errors.js';
import { newSessionKey } from '../core/keys.js';
import { describeStore, recordingLogger } from '../testing/store-suite.js';
import { djangoCodec } from './codec.js';
import { DjangoStore, parseSqliteDate, sqliteDate } from './store.js';

// The DDL Django 3.2's `manage.py migrate` made for django.contrib.sessions (read back from sqlite_master).
const SQLITE_DDL = `CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL);
CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");`;
// Django's PostgreSQL migration for the same model.
const PG_DDL = `CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL);
CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");
CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops);`;

const SECRET = 'store-test-secret';
const dir = mkdtempSync(join(tmpdir(), 'sessionkit-django-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describeStore('DjangoStore on SQLite', {
  keysInClear: true,
  noUserIndex: true,
  synchronous: true,
  setup(logger) {
    const path = join(dir, 'db.sqlite3');
    const db = new Database(path);
    db.exec(SQLITE_DDL);
    const peerDb = new Database(path); // another process's connection to Django's file
    return {
      store: new DjangoStore({ db, secret: SECRET, logger }),
      peer: new DjangoStore({ db: peerDb, secret: SECRET, logger }),
      corrupt: async (key) =>
        void db.prepare('UPDATE django_session SET session_data = ? WHERE session_key = ?').run('bad:encoded:value', key),
      dumpAtRest: async () => JSON.stringify(db.prepare('SELECT * FROM django_session').all()),
      close: async () => {
        db.close();
        peerDb.close();
      },
    };
  },
});

// One real PostgreSQL for this file.
let server: RunningPostgres | undefined;
const started = startPostgres().then((s) => (server = s));
after(async () => {
  await started.catch(() => {});
  await server?.destroy();
});

describeStore('DjangoStore on PostgreSQL', {
  keysInClear: true,
  noUserIndex: true,
  async setup(logger) {
    await started;
    const pool = new pg.Pool({ connectionString: server!.url, max: 5 });
    const peerPool = new pg.Pool({ connectionString: server!.url, max: 5 });
    await pool.query(PG_DDL);
    return {
      store: new DjangoStore({ db: pool, secret: SECRET, logger }),
      peer: new DjangoStore({ db: peerPool, secret: SECRET, logger }),
      corrupt: async (key) =>
        void (await pool.query('UPDATE django_session SET session_data = $1 WHERE session_key = $2', ['bad:encoded:value', key])),
      close: async () => {
        await pool.end();
        await peerPool.end();
      },
    };
  },
});

describe('DjangoStore specifics', () => {
  let db!: Database.Database;
  before(() => {
    db = new Database(join(dir, 'specifics.sqlite3'));
    db.exec(SQLITE_DDL);
  });
  after(() => db.close());

  it('writes expire_date as Django does on SQLite: naive UTC text, no .ffffff when microseconds are 0', async () => {
    assert.equal(sqliteDate(Date.UTC(2026, 11, 10, 2, 17, 26, 665)), '2026-12-10 02:17:26.665000');
    assert.equal(sqliteDate(Date.UTC(2026, 11, 10, 2, 17, 26, 0)), '2026-12-10 02:17:26');
    assert.equal(parseSqliteDate('2026-12-10 02:17:26.665781'), Date.UTC(2026, 11, 10, 2, 17, 26, 665));
    assert.equal(parseSqliteDate('2026-12-10 02:17:26'), Date.UTC(2026, 11, 10, 2, 17, 26));
    const store = new DjangoStore({ db, secret: SECRET });
    const key = newSessionKey();
    await store.create({ key, data: { a: 1 }, expiresAt: Date.UTC(2030, 0, 1, 0, 0, 0, 250) });
    const row = db.prepare('SELECT session_key, session_data, expire_date FROM django_session WHERE session_key = ?').get(key) as Record<
      string,
      string
    >;
    assert.equal(row.expire_date, '2030-01-01 00:00:00.250000');
    assert.equal(row.session_key, key, 'the key is stored in clear, as Django stores it');
    assert.deepEqual(djangoCodec({ secret: SECRET }).decode(row.session_data!), { a: 1 });
  });

  it('a row Django would see as live compares as TEXT the way Django compares it', async () => {
    const store = new DjangoStore({ db, secret: SECRET });
    const key = newSessionKey();
    const at = Date.UTC(2030, 0, 1, 12, 0, 0, 0);
    await store.create({ key, data: { a: 1 }, expiresAt: at });
    assert.ok(await store.load(key, at - 1), 'live a millisecond before');
    assert.equal(await store.load(key, at), null, 'dead at expire_date (Django: expire_date > now)');
  });

  it('a row whose data was signed with another secret reads as empty and is logged, never throws', async () => {
    const logger = recordingLogger();
    const store = new DjangoStore({ db, secret: SECRET, logger });
    const key = newSessionKey();
    const foreign = djangoCodec({ secret: 'nobody-knows-this' }).encode({ user: 'mallory' });
    db.prepare('INSERT INTO django_session VALUES (?, ?, ?)').run(key, foreign, sqliteDate(Date.now() + 60_000));
    const found = await store.load(key);
    assert.deepEqual(found?.data, {});
    assert.ok(logger.records.some((r) => /corrupted/.test(r.message)));
  });

  it('refuses data it could not read back (JSON over 8 MiB) with SessionDataError naming the size and the limit, before anything is written', async () => {
    const store = new DjangoStore({ db, secret: SECRET });
    const key = newSessionKey();
    const now = Date.now();
    const big = { blob: 'x'.repeat(9 * 1024 * 1024) }; // compresses to a short token, inflates past the reader's cap
    const tooLarge = (e: unknown) =>
      e instanceof SessionDataError && e.message.includes(`${JSON.stringify(big).length} bytes`) && e.message.includes('8388608');
    await assert.rejects(store.create({ key, data: big, expiresAt: now + 60_000, now }), tooLarge);
    assert.equal(await store.exists(key), false, 'nothing was written');
    const version = (await store.create({ key, data: { small: 1 }, expiresAt: now + 60_000, now }))!;
    await assert.rejects(store.update({ key, data: big, expiresAt: now + 60_000, expectedVersion: version, now }), tooLarge);
    assert.deepEqual((await store.load(key, now))?.data, { small: 1 }, 'the stored session is unchanged');
    const fits = { blob: 'y'.repeat(1024 * 1024) };
    assert.equal((await store.update({ key, data: fits, expiresAt: now + 60_000, expectedVersion: version, now })).status, 'ok');
    assert.deepEqual((await store.load(key, now))?.data, fits, 'what fits is read back');
  });

  it('a missing table is StoreUnavailableError naming migrate', async () => {
    const empty = new Database(':memory:');
    const store = new DjangoStore({ db: empty, secret: SECRET });
    await assert.rejects(
      store.load(newSessionKey()),
      (err: unknown) => err instanceof StoreUnavailableError && /migrate/.test(err.message),
    );
    empty.close();
  });

  it('a closed database is StoreUnavailableError, not a crash', async () => {
    const gone = new Database(':memory:');
    gone.exec(SQLITE_DDL);
    const store = new DjangoStore({ db: gone, secret: SECRET });
    gone.close();
    await assert.rejects(store.exists(newSessionKey()), StoreUnavailableError);
  });

  it('bad options are ConfigErrors', () => {
    assert.throws(() => new DjangoStore({ db, secret: '' }), ConfigError);
    assert.throws(
      () => new DjangoStore({ db: {} as any, secret: SECRET }),
      (e: unknown) => e instanceof ConfigError && e.option === 'db',
    );
    assert.throws(
      () => new DjangoStore({ db, secret: SECRET, table: 'x; drop' }),
      (e: unknown) => e instanceof ConfigError && e.option === 'table',
    );
  });

  it("DjangoStore.fromUrl: opens Django's file, needs the secret, refuses what it cannot open", async () => {
    const saved = process.env.DJANGO_SECRET_KEY;
    delete process.env.DJANGO_SECRET_KEY;
    try {
      assert.throws(
        () => DjangoStore.fromUrl(`django+sqlite:${join(dir, 'specifics.sqlite3')}`),
        (e: unknown) => e instanceof ConfigError && /DJANGO_SECRET_KEY/.test(e.message),
      );
    } finally {
      if (saved !== undefined) process.env.DJANGO_SECRET_KEY = saved;
    }
    assert.throws(() => DjangoStore.fromUrl('sqlite:x', { secret: SECRET }), ConfigError);
    assert.throws(() => DjangoStore.fromUrl(`django+sqlite:${join(dir, 'missing.sqlite3')}`, { secret: SECRET }), StoreUnavailableError);
    const store = DjangoStore.fromUrl(`django+sqlite:${join(dir, 'specifics.sqlite3')}`, { secret: SECRET });
    const key = newSessionKey();
    await store.create({ key, data: { from: 'url' }, expiresAt: Date.now() + 60_000 });
    assert.deepEqual((await new DjangoStore({ db, secret: SECRET }).load(key))?.data, { from: 'url' });
    await store.close();
    await assert.rejects(store.exists(key), StoreUnavailableError, 'closed with the store');
  });

  it('PostgreSQL stopped: StoreUnavailableError within the timeout, and the same session after a restart', async () => {
    await started;
    const pool = new pg.Pool({ connectionString: server!.url, max: 2, connectionTimeoutMillis: 1000 });
    const logger = recordingLogger();
    const store = new DjangoStore({ db: pool, secret: SECRET, timeout: 2000, logger });
    const key = newSessionKey();
    await store.create({ key, data: { kept: true }, expiresAt: Date.now() + 60_000 });
    await server!.stop();
    try {
      const t0 = Date.now();
      await assert.rejects(store.load(key), StoreUnavailableError);
      assert.ok(Date.now() - t0 < 4000, 'bounded');
    } finally {
      await server!.restart();
    }
    assert.deepEqual((await store.load(key))?.data, { kept: true });
    await store.close();
    await pool.end();
  });
});

describe('DjangoStore with absoluteTimeout', () => {
  it('a session ends absoluteTimeout seconds after it began, however active, and after a login, from the login', async () => {
    const db = new Database(join(dir, 'absolute.sqlite3'));
    db.exec(SQLITE_DDL);
    let now = Date.UTC(2026, 0, 1);
    const { createSessions } = await import('../index.js');
    const sessions = createSessions<{ n: number }>({
      store: new DjangoStore({ db, secret: SECRET }),
      absoluteTimeout: 3600,
      touchInterval: 0,
      clock: () => now,
    });
    const request = async (cookie: string | undefined) => {
      const session = await sessions.load(cookie);
      session.set('n', session.get('n', 0) + 1);
      const setCookie = await sessions.commit(session);
      return { n: session.get('n'), cookie: setCookie?.split(';')[0] ?? cookie };
    };
    let visit = await request(undefined);
    // active every ten minutes: the idle expiry (two weeks) never comes, the absolute one does
    for (let minute = 10; minute < 60; minute += 10) {
      now += 10 * 60_000;
      visit = await request(visit.cookie);
    }
    assert.equal(visit.n, 6, 'the session lived through 50 minutes of activity');
    const raw = db.prepare('SELECT expire_date FROM django_session').get() as { expire_date: string };
    assert.equal(parseSqliteDate(raw.expire_date), Date.UTC(2026, 0, 1) + 3600_000, 'Django sees the absolute end as expire_date');
    now += 10 * 60_000 + 1; // 60 minutes and 1 ms after the session began
    const after = await sessions.load(visit.cookie);
    assert.equal(after.get('n'), undefined, 'past absoluteTimeout the session is gone');

    // a login starts the hour again
    const fresh = await sessions.load(undefined);
    fresh.set('n', 1);
    await fresh.login('7');
    const cookie = (await sessions.commit(fresh))!.split(';')[0]!;
    now += 3599_000;
    assert.equal((await sessions.load(cookie)).userId, '7', 'signed in until the hour after login');
    now += 2_000;
    assert.equal((await sessions.load(cookie)).userId, null, 'signed out an hour after login');
    db.close();
  });
});
