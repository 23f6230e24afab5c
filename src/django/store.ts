import { md5 } from '@noble/hashes/legacy';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import type { SessionData } from '../core/codec.js';
import { ConfigError, SessionDataError, StoreUnavailableError } from '../core/errors.js';
import { consoleLogger, type Logger } from '../core/log.js';
import { builtin } from '../core/require.js';
import { DEFAULT_MAX_DECOMPRESSED, pythonJson, type Secret } from '../core/signing.js';
import type { CreateStoreOptions } from '../core/store.js';
import {
  type DataCodec,
  type ExpiryFormat,
  parseTable,
  resolveMilliseconds,
  SqlStore,
  type SqlStoreConfig,
  type TableShape,
} from '../stores/sql/engine.js';
import { isPool, type PgPool, pgDriver, poolFromUrl } from '../stores/sql/postgres.js';
import {
  isSqliteConnection,
  LOCK_WAIT_MS,
  loadSqliteDriver,
  openSqlite,
  type SqliteConnection,
  sqliteDriver,
} from '../stores/sql/sqlite.js';
import { djangoCodec } from './codec.js';

export interface DjangoStoreOptions {
  /**
   * Django's database: a SQLite connection on Django's SQLite file (a better-sqlite3 `Database`,
   * node:sqlite `DatabaseSync` or bun:sqlite `Database`), or a `pg` Pool on Django's PostgreSQL
   * database. The store never closes it.
   */
  db: SqliteConnection | PgPool;
  /** Django's SECRET_KEY, or [SECRET_KEY, ...SECRET_KEY_FALLBACKS]: the first signs, every one verifies. */
  secret: Secret;
  /** Django's session table (made by `manage.py migrate`). @default 'django_session' */
  table?: string;
  /** How long a PostgreSQL query may take, or a SQLite write may wait for another process's lock, in milliseconds, before StoreUnavailableError. @default 5000 */
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
  const hex = nodeCrypto
    ? nodeCrypto.createHash('md5').update(sessionData, 'utf8').digest('hex')
    : bytesToHex(md5(utf8ToBytes(sessionData)));
  return parseInt(hex.slice(0, 12), 16);
}
/** node:crypto where the runtime has it (faster); @noble/hashes elsewhere. */
const nodeCrypto = builtin<typeof import('node:crypto')>('node:crypto');

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

const SQLITE_DATE: ExpiryFormat = { write: sqliteDate, read: (v) => parseSqliteDate(v as string) };
/** `timestamp with time zone`: pg takes and gives Dates. */
const PG_DATE: ExpiryFormat = { write: (ms) => new Date(ms), read: (v) => new Date(v as Date).getTime() };

/** Django's `django_session` table: keys in clear, `expire_date` as Django writes it, no version column. */
const DJANGO_TABLE: TableShape = {
  table: 'django_session',
  keyColumn: 'session_key',
  dataColumn: 'session_data',
  expiryColumn: 'expire_date',
  storedKey: (key) => key,
  expiry: (dialect) => (dialect === 'sqlite' ? SQLITE_DATE : PG_DATE),
  expiredAtExpiry: false, // Django: live while expire_date > now, cleared when expire_date < now
  version: {
    derive: versionOf,
    // PostgreSQL computes the same digest, so its compare-and-set is one statement.
    sql: { postgres: { expression: (column) => `left(md5(${column}), 12)`, param: (v) => v.toString(16).padStart(12, '0') } },
  },
  columns: null,
  // Django keeps the user (_auth_user_id) inside the signed data, in no column of its own.
  accounts: {
    noUserIndex:
      "DjangoStore keeps Django's own django_session table, which has no user column (Django keeps _auth_user_id inside the signed data): finding a user's sessions would read and decode every row, so listing and revoking by user, idleTimeout and maxSessionsPerUser are not offered on it; login, userId, csrfToken and absoluteTimeout work",
  },
};

/**
 * Session data in Django's signed format. A session whose JSON is larger than what the reader
 * inflates (DEFAULT_MAX_DECOMPRESSED, 8 MiB) would read back as empty: it is refused before
 * anything is written.
 */
function djangoDataCodec(secret: Secret, logger: Logger): DataCodec {
  const codec = djangoCodec({ secret, logger });
  const limit = DEFAULT_MAX_DECOMPRESSED;
  return {
    encode(data: SessionData, now: number): string {
      const token = codec.encode(data, now);
      // token = PAYLOAD:TS:SIG, PAYLOAD base64url of the JSON, or "." + base64url of its zlib.
      // zlib inflates at most ~1032:1, so a short compressed payload cannot exceed the limit.
      const payload = token.indexOf(':');
      const compressed = token.startsWith('.');
      const bound = compressed ? ((payload - 1) * 3 * 1032) / 4 : (payload * 3) / 4;
      if (bound > limit) {
        const size = compressed ? pythonJson(data).length : Math.floor((payload * 3) / 4);
        if (size > limit)
          throw new SessionDataError(
            `the session data is ${size} bytes as JSON, more than the ${limit} bytes (8 MiB) DjangoStore reads back; keep less in the session (large data belongs in its own table, with its id in the session)`,
          );
      }
      return token;
    },
    decode: (text) => codec.decode(text),
  };
}

function configure(options: DjangoStoreOptions): SqlStoreConfig {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('db', "new DjangoStore({ db, secret }) needs Django's database and SECRET_KEY");
  const table = parseTable(options.table ?? DJANGO_TABLE.table, 'django_session');
  const logger = options.logger ?? consoleLogger;
  const codec = djangoDataCodec(options.secret, logger);
  const timeout = resolveMilliseconds('timeout', options.timeout, 5000, 1);
  const { db } = options;
  const common = {
    shape: DJANGO_TABLE,
    keysInClear: true,
    table,
    codec,
    createTable: false,
    missingTable: "run Django's manage.py migrate, or pass table",
  };
  if (isPool(db)) return { ...common, driver: pgDriver(db, { timeout, logger, label: 'DjangoStore' }), label: 'Django PostgreSQL' };
  if (isSqliteConnection(db)) return { ...common, driver: sqliteDriver(db, { lockTimeout: timeout }), label: 'Django SQLite' };
  throw new ConfigError(
    'db',
    "give a SQLite connection opened on Django's SQLite file (better-sqlite3, node:sqlite or bun:sqlite), or a pg Pool on Django's PostgreSQL database",
  );
}

/**
 * Sessions in Django's own `django_session` table, shared with a running Django site
 * (`SESSION_ENGINE = "django.contrib.sessions.backends.db"`). Data is in Django's signed format,
 * keys are stored in clear as Django stores them, `expire_date` as Django writes it.
 * Django's `_session_expiry` stays in the data, so `setExpiry` on either side holds on the other.
 */
export class DjangoStore extends SqlStore {
  /** Django's table keeps session keys in clear (Django reads them so): sessionkit's digest at rest does not apply. */
  readonly keysInClear = true;

  constructor(options: DjangoStoreOptions) {
    super(configure(options));
  }

  /**
   * A DjangoStore from a URL, for the CLI and `createStore`: `django+sqlite:PATH` (Django's SQLite
   * file) or `django+postgres://user@host/db` (also `django+postgresql://`). The store opens the
   * database and closes it on `close()`. `secret` defaults to the DJANGO_SECRET_KEY environment variable.
   */
  static fromUrl(url: string, options: Partial<Omit<DjangoStoreOptions, 'db'>> & CreateStoreOptions = {}): DjangoStore {
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
    if (scheme !== 'sqlite') {
      return new DjangoStore({ ...options, secret, db: poolFromUrl(`${scheme}:${m[2]}`) });
    }
    let path = m[2]!;
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new ConfigError('url', `${JSON.stringify(url)} names no file; write e.g. django+sqlite:./db.sqlite3`);
    path = decodeURIComponent(path);
    const driver = loadSqliteDriver();
    let db: SqliteConnection;
    try {
      if (builtin<typeof import('node:fs')>('node:fs')?.existsSync(path) === false)
        throw new Error('no such file (run manage.py migrate in the Django project first)');
      db = openSqlite(driver, path);
      db.exec(`PRAGMA busy_timeout = ${LOCK_WAIT_MS}`);
    } catch (err) {
      throw new StoreUnavailableError(`cannot open Django's SQLite file ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return new DjangoStore({ ...options, secret, db });
    } catch (err) {
      db.close();
      throw err;
    }
  }
}
