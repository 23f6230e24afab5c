import { createHash } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import type { Pool, QueryResultRow } from 'pg';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { consoleLogger, type Logger } from '../core/log.js';
import type { Secret } from '../core/signing.js';
import type { SessionData } from '../core/codec.js';
import type { SessionStore, StoredSession, StoreStats, UpdateResult } from '../core/store.js';
import { djangoCodec, type DjangoCodec } from './codec.js';
import { boundedQuery } from '../stores/pg-query.js';
import { requireOptional } from '../core/require.js';

export interface DjangoStoreOptions {
  /** Django's database: a better-sqlite3 `Database` on Django's SQLite file, or a `pg` Pool on Django's PostgreSQL database. The store never closes it. */
  db: BetterSqlite3.Database | Pool;
  /** Django's SECRET_KEY, or [SECRET_KEY, ...SECRET_KEY_FALLBACKS]: the first signs, every one verifies. */
  secret: Secret;
  /** Django's session table (made by `manage.py migrate`). @default 'django_session' */
  table?: string;
  /** How long a PostgreSQL query may take, in milliseconds, before StoreUnavailableError. @default 5000 */
  timeout?: number;
  /** Where data that does not verify (a security event) and pool errors are reported. @default console */
  logger?: Logger;
}

/**
 * The version of a row, for compare-and-set. `django_session` has no version column, so it is
 * derived from `session_data`: every save signs a new timestamp, so the token changes with each
 * write (an identical token means identical data written in the same second). MD5 here is
 * change detection, not security. 48 bits, so it is a safe integer.
 */
function versionOf(sessionData: string): number {
  return parseInt(versionHex(sessionData), 16);
}
function versionHex(sessionData: string): string {
  return createHash('md5').update(sessionData, 'utf8').digest('hex').slice(0, 12);
}

/**
 * `expire_date` as Django writes it on SQLite with USE_TZ=True: naive UTC text
 * `YYYY-MM-DD HH:MM:SS.ffffff`, without `.ffffff` when the microseconds are 0 (Python's `str(datetime)`).
 * Django's filters compare it as TEXT, so the layout must be exactly this.
 */
export function sqliteDate(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-10T02:17:26.665Z
  const millis = iso.slice(20, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${millis === '000' ? '' : `.${millis}000`}`;
}

/** Reads Django's SQLite `expire_date` text (naive UTC) back to milliseconds; NaN when it is not one. */
export function parseSqliteDate(text: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) return NaN;
  const ms = m[7] ? Math.floor(Number(m[7].padEnd(6, '0')) / 1000) : 0;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms);
}

interface Backend {
  load(key: string, now: number): Promise<{ session_data: string; expires: number } | null>;
  insert(key: string, token: string, expiresAt: number): Promise<boolean>;
  /** Writes when the live row's session_data still hashes to `expected`. */
  update(key: string, token: string, expiresAt: number, expected: number, now: number): Promise<UpdateResult['status']>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  clearExpired(now: number): Promise<number>;
  stats(now: number): Promise<StoreStats>;
  close(): void;
}

function isSqlite(db: unknown): db is BetterSqlite3.Database {
  const d = db as Record<string, unknown>;
  return typeof d.prepare === 'function' && typeof d.pragma === 'function' && typeof d.transaction === 'function';
}
function isPool(db: unknown): db is Pool {
  const d = db as Record<string, unknown>;
  return typeof d.query === 'function' && typeof d.connect === 'function' && typeof d.on === 'function';
}

let own: (store: DjangoStore, release: () => Promise<void> | void) => void;

/**
 * Sessions in Django's own `django_session` table, shared with a running Django site
 * (`SESSION_ENGINE = "django.contrib.sessions.backends.db"`). Data is in Django's signed format,
 * keys are stored in clear as Django stores them, `expire_date` as Django writes it.
 * Django's `_session_expiry` stays in the data, so `setExpiry` on either side holds on the other.
 */
export class DjangoStore implements SessionStore {
  readonly #codec: DjangoCodec;
  readonly #backend: Backend;
  /** Set for a store made by djangoStoreFromUrl, which opened the database itself. */
  #release: (() => Promise<void> | void) | null = null;

  constructor(options: DjangoStoreOptions) {
    if (typeof options !== 'object' || options === null)
      throw new ConfigError('db', "new DjangoStore({ db, secret }) needs Django's database and SECRET_KEY");
    const table = options.table ?? 'django_session';
    if (typeof table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) {
      throw new ConfigError('table', `${JSON.stringify(table)} is not a plain SQL identifier; Django's is django_session`);
    }
    const logger = options.logger ?? consoleLogger;
    this.#codec = djangoCodec({ secret: options.secret, logger });
    const timeout = options.timeout ?? 5000;
    if (!Number.isInteger(timeout) || timeout <= 0) throw new ConfigError('timeout', 'give whole milliseconds, e.g. 5000');
    if (isSqlite(options.db)) this.#backend = sqliteBackend(options.db, table);
    else if (isPool(options.db)) this.#backend = pgBackend(options.db, table, timeout, logger);
    else
      throw new ConfigError(
        'db',
        "give a better-sqlite3 Database opened on Django's SQLite file, or a pg Pool on Django's PostgreSQL database",
      );
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    const row = await this.#backend.load(key, now);
    if (!row) return null;
    return { data: this.#codec.decode(row.session_data), expiresAt: row.expires, version: versionOf(row.session_data) };
  }

  async create(key: string, data: SessionData, expiresAt: number, now = Date.now()): Promise<number | null> {
    const token = this.#codec.encode(data, now);
    return (await this.#backend.insert(key, token, expiresAt)) ? versionOf(token) : null;
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const token = this.#codec.encode(data, now);
    const status = await this.#backend.update(key, token, expiresAt, expectedVersion, now);
    return status === 'ok' ? { status, version: versionOf(token) } : { status };
  }

  delete(key: string): Promise<void> {
    return this.#backend.delete(key);
  }

  exists(key: string): Promise<boolean> {
    return this.#backend.exists(key);
  }

  /** Django's clearsessions: deletes rows whose expire_date < now. */
  clearExpired(now = Date.now()): Promise<number> {
    return this.#backend.clearExpired(now);
  }

  stats(now = Date.now()): Promise<StoreStats> {
    return this.#backend.stats(now);
  }

  /** A database the caller passed stays open (only the store's own listener is removed); one djangoStoreFromUrl opened is closed. */
  async close(): Promise<void> {
    this.#backend.close();
    const release = this.#release;
    this.#release = null;
    await release?.();
  }

  static {
    own = (store, release) => void (store.#release = release);
  }
}

/**
 * A DjangoStore from a URL, for the CLI and `createStore`: `django+sqlite:PATH` (Django's SQLite
 * file) or `django+postgres://user@host/db` (also `django+postgresql://`). The store opens the
 * database and closes it on `close()`. `secret` defaults to the DJANGO_SECRET_KEY environment variable.
 */
export function djangoStoreFromUrl(url: string, options: { secret?: Secret; logger?: Logger; table?: string } = {}): DjangoStore {
  const secret = options.secret ?? process.env.DJANGO_SECRET_KEY;
  if (secret === undefined || secret === '')
    throw new ConfigError('secret', "a django+ store URL needs Django's SECRET_KEY: set the DJANGO_SECRET_KEY environment variable");
  const m = /^django\+(sqlite|postgres|postgresql):(.*)$/i.exec(url);
  if (!m)
    throw new ConfigError(
      'url',
      `${JSON.stringify(url)} is not a Django store URL; write django+sqlite:PATH or django+postgres://user@host/db`,
    );
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'sqlite') {
    let path = m[2]!;
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new ConfigError('url', `${JSON.stringify(url)} names no file; write e.g. django+sqlite:./db.sqlite3`);
    const Sqlite = requireOptional<typeof BetterSqlite3>('better-sqlite3');
    let db: BetterSqlite3.Database;
    try {
      db = new Sqlite(decodeURIComponent(path), { fileMustExist: true, timeout: 5000 });
    } catch (err) {
      throw new StoreUnavailableError(`cannot open Django's SQLite file ${path}: ${(err as Error).message}`, { cause: err });
    }
    const store = new DjangoStore({ db, secret, table: options.table, logger: options.logger });
    own(store, () => void db.close());
    return store;
  }
  const pg = requireOptional<{ Pool: typeof Pool; default?: { Pool: typeof Pool } }>('pg');
  const PgPool = pg.Pool ?? pg.default!.Pool;
  const pool = new PgPool({ connectionString: `${scheme}:${m[2]}`, connectionTimeoutMillis: 3000, idleTimeoutMillis: 30_000 });
  const store = new DjangoStore({ db: pool, secret, table: options.table, logger: options.logger });
  own(store, () => pool.end());
  return store;
}

function sqliteBackend(db: BetterSqlite3.Database, table: string): Backend {
  const run = <T>(what: string, fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      const e = err as Error;
      const hint = /no such table/.test(e.message) ? `; run Django's manage.py migrate, or pass table` : '';
      return Promise.reject(new StoreUnavailableError(`Django SQLite ${what} failed: ${e.message}${hint}`, { cause: err }));
    }
  };
  let stmts: ReturnType<typeof prepare> | undefined;
  function prepare() {
    return {
      load: db.prepare<[string, string], { session_data: string; expire_date: string }>(
        `SELECT session_data, expire_date FROM ${table} WHERE session_key = ? AND expire_date > ?`,
      ),
      insert: db.prepare(`INSERT OR IGNORE INTO ${table} (session_key, session_data, expire_date) VALUES (?, ?, ?)`),
      update: db.prepare(`UPDATE ${table} SET session_data = ?, expire_date = ? WHERE session_key = ?`),
      delete: db.prepare(`DELETE FROM ${table} WHERE session_key = ?`),
      exists: db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM ${table} WHERE session_key = ?`),
      clearExpired: db.prepare(`DELETE FROM ${table} WHERE expire_date < ?`),
      stats: db.prepare<[string], { count: number; expired: number | null; bytes: number | null }>(
        `SELECT count(*) AS count, sum(expire_date < ?) AS expired, sum(length(CAST(session_data AS BLOB))) AS bytes FROM ${table}`,
      ),
    };
  }
  // Prepared on first use, so a store can be built before Django's migrate made the table.
  const s = () => (stmts ??= prepare());
  let cas: ((key: string, token: string, until: string, expected: number, now: string) => UpdateResult['status']) | undefined;
  const compareAndSet = () =>
    (cas ??= db.transaction((key: string, token: string, until: string, expected: number, now: string) => {
      const row = s().load.get(key, now);
      if (!row) return 'missing';
      if (versionOf(row.session_data) !== expected) return 'conflict';
      s().update.run(token, until, key);
      return 'ok';
    }).immediate as unknown as typeof cas);
  return {
    load: (key, now) =>
      run('load', () => {
        const row = s().load.get(key, sqliteDate(now));
        return row ? { session_data: row.session_data, expires: parseSqliteDate(row.expire_date) } : null;
      }),
    insert: (key, token, until) => run('create', () => s().insert.run(key, token, sqliteDate(until)).changes === 1),
    update: (key, token, until, expected, now) =>
      run('update', () => compareAndSet()!(key, token, sqliteDate(until), expected, sqliteDate(now))),
    delete: (key) => run('delete', () => void s().delete.run(key)),
    exists: (key) => run('exists', () => s().exists.get(key) !== undefined),
    clearExpired: (now) => run('clearExpired', () => s().clearExpired.run(sqliteDate(now)).changes),
    stats: (now) =>
      run('stats', () => {
        const row = s().stats.get(sqliteDate(now))!;
        return { count: row.count, expired: row.expired ?? 0, bytes: row.bytes ?? 0 };
      }),
    close: () => {},
  };
}

function pgBackend(pool: Pool, table: string, timeout: number, logger: Logger): Backend {
  const onError = (err: Error) => logger.error('an idle PostgreSQL connection failed', { store: 'DjangoStore', message: err.message });
  pool.on('error', onError);
  const query = <R extends QueryResultRow>(what: string, text: string, values: unknown[]): Promise<{ rows: R[]; rowCount: number }> =>
    boundedQuery<R>(
      pool,
      { text, values },
      timeout,
      () =>
        new StoreUnavailableError(
          `Django PostgreSQL ${what} did not answer within ${timeout} ms; check that the server is up, or raise the timeout option`,
        ),
      (err) => unavailable(what, err),
    );
  const unavailable = (what: string, err: unknown): StoreUnavailableError => {
    if (err instanceof StoreUnavailableError) return err;
    const e = err as { message?: string; code?: string };
    const hint = e.code === '42P01' ? `; run Django's manage.py migrate, or pass table` : '; check that PostgreSQL is up and reachable';
    return new StoreUnavailableError(`Django PostgreSQL ${what} failed: ${e?.message ?? String(err)}${hint}`, { cause: err });
  };
  const at = (ms: number) => new Date(ms);
  return {
    async load(key, now) {
      const { rows } = await query<{ session_data: string; expire_date: Date }>(
        'load',
        `SELECT session_data, expire_date FROM ${table} WHERE session_key = $1 AND expire_date > $2`,
        [key, at(now)],
      );
      const row = rows[0];
      return row ? { session_data: row.session_data, expires: new Date(row.expire_date).getTime() } : null;
    },
    async insert(key, token, until) {
      const { rowCount } = await query(
        'create',
        `INSERT INTO ${table} (session_key, session_data, expire_date) VALUES ($1, $2, $3) ON CONFLICT (session_key) DO NOTHING`,
        [key, token, at(until)],
      );
      return rowCount === 1;
    },
    async update(key, token, until, expected, now) {
      // One statement: PostgreSQL re-checks the WHERE on the newest row version if another writer got there first.
      const { rowCount } = await query(
        'update',
        `UPDATE ${table} SET session_data = $1, expire_date = $2 WHERE session_key = $3 AND expire_date > $4 AND left(md5(session_data), 12) = $5`,
        [token, at(until), key, at(now), expected.toString(16).padStart(12, '0')],
      );
      if (rowCount === 1) return 'ok';
      const { rows } = await query('update', `SELECT 1 FROM ${table} WHERE session_key = $1 AND expire_date > $2`, [key, at(now)]);
      return rows.length > 0 ? 'conflict' : 'missing';
    },
    async delete(key) {
      await query('delete', `DELETE FROM ${table} WHERE session_key = $1`, [key]);
    },
    async exists(key) {
      return (await query('exists', `SELECT 1 FROM ${table} WHERE session_key = $1`, [key])).rows.length > 0;
    },
    async clearExpired(now) {
      return (await query('clearExpired', `DELETE FROM ${table} WHERE expire_date < $1`, [at(now)])).rowCount;
    },
    async stats(now) {
      const { rows } = await query<{ count: string; expired: string | null; bytes: string | null }>(
        'stats',
        `SELECT count(*) AS count, count(*) FILTER (WHERE expire_date < $1) AS expired, sum(octet_length(session_data)) AS bytes FROM ${table}`,
        [at(now)],
      );
      const row = rows[0]!;
      return { count: Number(row.count), expired: Number(row.expired ?? 0), bytes: Number(row.bytes ?? 0) };
    },
    close: () => void pool.off('error', onError),
  };
}
