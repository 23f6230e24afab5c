/**
 * sessionkit beside a REAL Django (Debian's python3-django, 3.2 here), both on one database:
 * SQLite (one file) and PostgreSQL (a real server). Django runs as a long-lived python3 process
 * (test/support/django/peer.py) using its own session, auth and clearsessions code.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createSessions, CookieStore, type Sessions } from '../src/index.js';
import { djangoCodec, djangoUser, DjangoStore, verifyDjangoUserHash } from '../src/django/index.js';
import { recordingLogger } from '../src/testing/store-suite.js';
import { djangoPython, hasPsycopg2, startDjango, type DjangoPeer } from './support/django/peer.js';
import { startPostgres, type RunningPostgres } from './support/postgres.js';

const SECRET = 'django-insecure-interop-test-secret';
const python = djangoPython();
const cliPath = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

/** The sessionkit CLI, run as a user runs it. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cliPath, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const skipAll = python ? false : 'Django is not installed (apt-get install python3-django)';
const skipPg = skipAll || (hasPsycopg2(python!) ? false : 'psycopg2 is not installed (apt-get install python3-psycopg2)');

const dir = mkdtempSync(join(tmpdir(), 'sessionkit-django-interop-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Data = Record<string, any>;
const cookie = (key: string) => `sessionid=${key}`;
const keyOf = (setCookie: string | null) => {
  assert.ok(setCookie, 'expected a Set-Cookie');
  return setCookie.split(';')[0]!.split('=')[1]!;
};
const unicode = { name: 'Zoë Ωmega 😀', quote: '"<script>" \\ / \u2028 \x7f', nested: { list: [1, 2.5, -3, true, null, 'é'] } };

interface Side {
  /** The django+ store URL of the same database (what `sessionkit clearsessions --store` would be given). */
  url: string;
  db: Database.Database | pg.Pool;
  django: DjangoPeer;
  sessions: Sessions<Data>;
  logger: ReturnType<typeof recordingLogger>;
  /** Overwrites session_data of a row directly in the database. */
  setRaw(key: string, sessionData: string): Promise<void>;
  rawData(key: string): Promise<string | undefined>;
}

function interopCases(name: string, skip: string | false, open: () => Promise<Side & { close(): Promise<void> }>) {
  describe(`Django interop on ${name}`, { skip }, () => {
    let side!: Side & { close(): Promise<void> };
    before(async () => {
      side = await open();
    });
    after(async () => {
      await side?.close();
    });

    it('a session Django created with a real auth login is read by sessionkit with the same data and user', async () => {
      const { django, sessions } = side;
      const login = await django.run('login', { username: `alice-${name}`, password: 'pw-1', data: unicode });
      const fromDjango = await django.run('read', { key: login.key });
      const s = await sessions.load(cookie(login.key));
      assert.equal(s.key, login.key);
      assert.deepEqual(Object.fromEntries(s.entries()), fromDjango.data);
      assert.deepEqual(s.get('nested'), unicode.nested);
      assert.deepEqual(djangoUser(s), {
        id: String(login.user_id),
        backend: 'django.contrib.auth.backends.ModelBackend',
        hash: login.auth_hash,
      });
      assert.equal(verifyDjangoUserHash(s, login.password, SECRET), true);

      // A password change on the Django side logs the user out on both sides.
      const changed = await django.run('set_password', { username: `alice-${name}`, password: 'pw-2' });
      assert.equal((await django.run('get_user', { key: login.key })).user_id, null, 'Django logs the session out');
      assert.equal(verifyDjangoUserHash(s, changed.password, SECRET), false, 'and so does the hash check');
    });

    it('a session sessionkit created and changed is read by Django: unicode and large compressed data', async () => {
      const { django, sessions } = side;
      const big = { cart: Array.from({ length: 400 }, (_, i) => ({ sku: `item-${i}`, title: 'Crème brûlée 🍮', qty: i % 5 })) };
      const s = await sessions.load();
      s.update({ ...unicode, ...big });
      const key = keyOf(await sessions.commit(s));
      assert.ok((await side.rawData(key))!.startsWith('.'), 'stored compressed');
      const read = await django.run('read', { key });
      assert.equal(read.found, true);
      assert.deepEqual(read.data, { ...unicode, ...big });

      const t = await sessions.load(cookie(key));
      t.set('name', 'Zoë changed');
      t.delete('quote');
      assert.equal(keyOf(await sessions.commit(t)), key);
      const again = await django.run('read', { key });
      assert.equal(again.data.name, 'Zoë changed');
      assert.equal('quote' in again.data, false);

      // Django changes it back; sessionkit sees Django's change.
      await django.run('update', { key, data: { from: 'django' } });
      const u = await sessions.load(cookie(key));
      assert.equal(u.get('from'), 'django');
      assert.equal(u.get('name'), 'Zoë changed');
    });

    it('expire_date is written in the layout Django writes', async () => {
      const { django, sessions } = side;
      const s = await sessions.load();
      s.set('x', 1);
      const ours = keyOf(await sessions.commit(s));
      const theirs = (await django.run('create', { data: { x: 1 } })).key;
      const a = (await django.run('raw_expire_date', { key: ours })).expire_date as string;
      const b = (await django.run('raw_expire_date', { key: theirs })).expire_date as string;
      const layout =
        name === 'SQLite' ? /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$/ : /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$/;
      assert.match(a, layout);
      assert.match(b, layout);
      // Django's own ORM sees our expiry as a real, aware datetime two weeks out.
      const row = (await django.run('row', { key: ours })).row;
      assert.ok(Math.abs(Date.parse(row.expire_date) - (Date.now() + 1209600_000)) < 60_000);
    });

    it('a session deleted or expired on one side does not load on the other', async () => {
      const { django, sessions } = side;
      // Django flushes (logout) → gone for sessionkit.
      const k1 = (await django.run('create', { data: { user: 'a' } })).key;
      await django.run('flush', { key: k1 });
      const s1 = await sessions.load(cookie(k1));
      assert.equal(s1.get('user'), undefined);
      assert.equal(s1.key, null);
      // Django expires → not loaded by sessionkit.
      const k2 = (await django.run('create', { data: { user: 'b' }, expiry: -10 })).key;
      assert.equal((await sessions.load(cookie(k2))).get('user'), undefined);
      // sessionkit flushes → Django finds nothing.
      const s3 = await sessions.load();
      s3.set('user', 'c');
      const k3 = keyOf(await sessions.commit(s3));
      const s3b = await sessions.load(cookie(k3));
      await s3b.flush();
      await sessions.commit(s3b);
      assert.equal((await django.run('read', { key: k3 })).found, false);
      // sessionkit expires (seconds, which Django 3.2 understands) → Django does not load it.
      const s4 = await sessions.load();
      s4.set('user', 'd');
      s4.setExpiry(-10);
      const k4 = keyOf(await sessions.commit(s4));
      assert.deepEqual(await django.run('read', { key: k4 }), { ok: true, data: {}, found: false, corrupted: false });
    });

    it('setExpiry in seconds on one side is honoured by the other', async () => {
      const { django, sessions } = side;
      const s = await sessions.load();
      s.set('x', 1);
      s.setExpiry(3600);
      const key = keyOf(await sessions.commit(s));
      const row = (await django.run('row', { key })).row;
      assert.ok(Math.abs(Date.parse(row.expire_date) - (Date.now() + 3600_000)) < 60_000);
      await django.run('update', { key, data: { y: 2 }, expiry: 600 });
      const t = await sessions.load(cookie(key));
      assert.equal(t.get('_session_expiry' as any), 600);
      assert.ok(Math.abs(t.expiryAge - 600) <= 1);
    });

    it('tampered data, an unknown secret, and a cookie-store token as stored data: each reads as empty on both sides, never throws', async () => {
      const { django, sessions, logger } = side;
      const foreign = (await django.run('encode', { data: { user: 'mallory' }, secret: 'a-secret-neither-side-knows' })).token as string;
      await django.run('version', { secret: SECRET });
      const cookieToken = (await django.run('cookie_sign', { data: { user: 'mallory' } })).value as string;
      const good = (await django.run('encode', { data: { user: 'alice' } })).token as string;
      const tampered = good.replace(/^[^:]+/, Buffer.from('{"user":"mallory"}').toString('base64url'));
      for (const [what, token] of [
        ['tampered', tampered],
        ['unknown secret', foreign],
        ['cookie-store token', cookieToken],
      ] as const) {
        const key = (await django.run('create', { data: { user: 'alice' } })).key;
        await side.setRaw(key, token);
        const before = logger.records.length;
        const s = await sessions.load(cookie(key));
        assert.deepEqual(Object.fromEntries(s.entries()), {}, what);
        assert.equal(s.key, key, `${what}: the row was found, so the key is kept (Django)`);
        assert.ok(logger.records.length > before, `${what}: logged`);
        const read = await django.run('read', { key });
        assert.deepEqual(read.data, {}, what);
        assert.equal(read.corrupted, true, `${what}: Django logs "Session data corrupted" too`);
        // The next save overwrites the row under the same key, readable by Django.
        s.set('user', 'fresh');
        assert.equal(keyOf(await sessions.commit(s)), key);
        assert.deepEqual((await django.run('read', { key })).data, { user: 'fresh' });
      }
    });

    it('a rotated secret: data signed with the old key still loads while the old key is listed (Django 3.2 has no SECRET_KEY_FALLBACKS)', async () => {
      const { django } = side;
      const NEW = 'django-insecure-the-new-key';
      const oldKey = (await django.run('create', { data: { user: 'alice' } })).key; // signed with SECRET
      const rotated = createSessions<Data>({ store: new DjangoStore({ db: side.db, secret: [NEW, SECRET], logger: side.logger }) });
      const s = await rotated.load(cookie(oldKey));
      assert.equal(s.get('user'), 'alice', 'the old key still verifies');
      s.set('seen', true);
      await rotated.commit(s);
      // Re-signed with the first (new) key: Django running on the new SECRET_KEY reads it...
      assert.deepEqual((await django.run('read', { key: oldKey, secret: NEW })).data, { user: 'alice', seen: true });
      // ...Django still on the old key does not (3.2 cannot list fallbacks; Django ≥ 4.1 would with SECRET_KEY_FALLBACKS).
      assert.equal((await django.run('read', { key: oldKey, secret: SECRET })).corrupted, true);
      // Once the old key is dropped from the list, data still signed with it reads as empty.
      const oldOnly = (await django.run('create', { data: { user: 'bob' } })).key;
      const dropped = createSessions<Data>({ store: new DjangoStore({ db: side.db, secret: NEW, logger: side.logger }) });
      assert.equal((await dropped.load(cookie(oldOnly))).get('user'), undefined);
    });

    it("Django's clearsessions and sessionkit's clearExpired each remove what the other expired", async () => {
      const { django, sessions } = side;
      const liveDjango = (await django.run('create', { data: { x: 1 }, expiry: 3600 })).key;
      const deadDjango = (await django.run('create', { data: { x: 1 }, expiry: -3600 })).key;
      const mk = async (expiry: number) => {
        const s = await sessions.load();
        s.set('x', 1);
        s.setExpiry(expiry);
        return keyOf(await sessions.commit(s));
      };
      const liveOurs = await mk(3600);
      const deadOurs = await mk(-3600);

      assert.ok((await sessions.clearExpired()) >= 2, 'sessionkit removes both expired rows');
      assert.equal((await django.run('exists', { key: deadDjango })).exists, false, 'the one Django expired');
      assert.equal((await django.run('exists', { key: deadOurs })).exists, false);

      const deadOurs2 = await mk(-3600);
      const deadDjango2 = (await django.run('create', { data: { x: 1 }, expiry: -3600 })).key;
      await django.run('clearsessions');
      assert.equal((await django.run('exists', { key: deadOurs2 })).exists, false, 'Django removes the one sessionkit expired');
      assert.equal((await django.run('exists', { key: deadDjango2 })).exists, false);
      for (const key of [liveDjango, liveOurs]) assert.equal((await django.run('exists', { key })).exists, true, 'live rows stay');

      // `sessionkit clearsessions` on Django's own table clears what Django expired.
      const deadDjango3 = (await django.run('create', { data: { x: 1 }, expiry: -3600 })).key;
      const cli = await runCli(['clearsessions', '--store', side.url], { DJANGO_SECRET_KEY: SECRET });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^removed [1-9]\d* expired sessions?\n$/);
      const stats = await runCli(['stats', '--store', side.url], { DJANGO_SECRET_KEY: SECRET });
      assert.match(stats.stdout, /expired: 0/);
      assert.equal((await django.run('exists', { key: deadDjango3 })).exists, false);
      assert.equal((await django.run('exists', { key: liveDjango })).exists, true);
    });

    it('djangoCodec encodes what Django decodes, and decodes what Django encodes', async () => {
      const { django } = side;
      const codec = djangoCodec({ secret: SECRET });
      assert.deepEqual((await django.run('decode', { token: codec.encode(unicode) })).data, unicode);
      assert.deepEqual(codec.decode((await django.run('encode', { data: unicode })).token), unicode);
    });
  });
}

interopCases('SQLite', skipAll, async () => {
  const path = join(dir, 'db.sqlite3');
  const django = await startDjango({ secret: SECRET, sqlite: path });
  try {
    await django.run('migrate');
  } catch (err) {
    await django.stop();
    throw err;
  }
  const db = new Database(path);
  const logger = recordingLogger();
  const sessions = createSessions<Data>({ store: new DjangoStore({ db, secret: SECRET, logger }), logger });
  return {
    django,
    sessions,
    logger,
    db,
    url: `django+sqlite:${path}`,
    setRaw: async (key, data) => void db.prepare('UPDATE django_session SET session_data = ? WHERE session_key = ?').run(data, key),
    rawData: async (key) =>
      (db.prepare('SELECT session_data FROM django_session WHERE session_key = ?').get(key) as { session_data: string } | undefined)
        ?.session_data,
    close: async () => {
      await django.stop();
      db.close();
    },
  };
});

let pgServer: RunningPostgres | undefined;
after(async () => {
  await pgServer?.destroy();
});

interopCases('PostgreSQL', skipPg, async () => {
  pgServer = await startPostgres();
  const url = new URL(pgServer.url);
  const django = await startDjango({
    secret: SECRET,
    pg: { host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), database: url.pathname.slice(1) },
  });
  const pool = new pg.Pool({ connectionString: pgServer.url, max: 4 });
  try {
    await django.run('migrate');
  } catch (err) {
    await django.stop();
    await pool.end();
    throw err;
  }
  const logger = recordingLogger();
  const sessions = createSessions<Data>({ store: new DjangoStore({ db: pool, secret: SECRET, logger }), logger });
  return {
    django,
    sessions,
    logger,
    db: pool,
    url: `django+${pgServer.url}`,
    setRaw: async (key, data) => void (await pool.query('UPDATE django_session SET session_data = $1 WHERE session_key = $2', [data, key])),
    rawData: async (key) =>
      (await pool.query('SELECT session_data FROM django_session WHERE session_key = $1', [key])).rows[0]?.session_data,
    close: async () => {
      await django.stop();
      await pool.end();
    },
  };
});

describe('CookieStore against Django signed_cookies', { skip: skipAll }, () => {
  let django!: DjangoPeer;
  before(async () => {
    django = await startDjango({ secret: SECRET, sqlite: join(dir, 'cookies.sqlite3') });
  });
  after(async () => {
    await django?.stop();
  });
  const logger = recordingLogger();
  const sessions = createSessions<Data>({ store: new CookieStore({ secret: SECRET, logger }), logger });

  it("reads a cookie Django's signed_cookies backend made", async () => {
    const big = { ...unicode, blob: 'abc '.repeat(300) };
    for (const data of [unicode, big]) {
      const value = (await django.run('cookie_sign', { data })).value as string;
      const s = await sessions.load(cookie(value));
      assert.deepEqual(Object.fromEntries(s.entries()), data);
    }
  });

  it('Django accepts the cookies sessionkit writes, compressed or not', async () => {
    for (const data of [unicode, { ...unicode, blob: 'abc '.repeat(300) }]) {
      const s = await sessions.load();
      s.update(data);
      const header = (await sessions.commit(s))!;
      const value = header.split(';')[0]!.slice('sessionid='.length);
      assert.doesNotMatch(value, /%/, 'sent as is, as Django reads it');
      assert.deepEqual(await django.run('cookie_read', { value }), { ok: true, data, valid: true });
    }
  });

  it("neither side accepts the other's server-side token as a cookie", async () => {
    const token = (await django.run('encode', { data: { user: 'mallory' } })).token as string;
    assert.equal((await sessions.load(cookie(token))).get('user'), undefined);
    assert.equal((await django.run('cookie_read', { value: token })).valid, false);
  });
});
