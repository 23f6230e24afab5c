import { builtin } from '../core/require.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { consoleLogger, type Logger } from '../core/log.js';
import type { CreateStoreOptions } from '../core/store.js';
import {
  jsonCodec,
  parseTable,
  resolveMilliseconds,
  SESSIONKIT_TABLE,
  SqlStore,
  type SqlStoreConfig,
  schemaSql,
  upgradeSql,
} from './sql/engine.js';
import {
  LOCK_WAIT_MS,
  loadSqliteDriver,
  openSqlite,
  SQLITE,
  type SqliteConnection,
  type SqliteDriverName,
  sqliteDriver,
} from './sql/sqlite.js';

export type { SqliteDriverName } from './sql/sqlite.js';

/** The options of `new SqliteStore()`; every one has a default. */
export interface SqliteStoreOptions {
  /** The database file; created with its folder when missing. `:memory:` for a private in-memory database. @default './sessions.sqlite3' */
  path?: string;
  /** The table; created when missing. @default 'sessionkit_sessions' */
  table?: string;
  /**
   * How long a write waits for another process's lock, in milliseconds, before the store reports
   * itself unavailable. The wait does not block the event loop: SQLite waits at most 10 ms at a
   * time and the store retries on a timer. @default 5000
   */
  busyTimeout?: number;
  /**
   * The SQLite driver. By default the best one the runtime has: better-sqlite3 when installed
   * (Node.js), node:sqlite (Node.js 22.5+, Deno), bun:sqlite (Bun).
   */
  driver?: SqliteDriverName;
  /** Where corrupt rows are reported. @default console */
  logger?: Logger;
}

function configure(options: SqliteStoreOptions): SqlStoreConfig {
  const path = options.path ?? './sessions.sqlite3';
  if (typeof path !== 'string' || path === '')
    throw new ConfigError('path', 'give the SQLite file as a non-empty string, e.g. "./sessions.sqlite3"');
  const table = parseTable(options.table ?? SESSIONKIT_TABLE.table, 'sessionkit_sessions');
  const busyTimeout = resolveMilliseconds('busyTimeout', options.busyTimeout, 5000, 0);
  const driver = loadSqliteDriver(options.driver);
  let db: SqliteConnection;
  try {
    if (path !== ':memory:') makeParentFolder(path);
    db = openSqlite(driver, path);
  } catch (err) {
    throw new StoreUnavailableError(`cannot open the SQLite store at ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // Setting up may wait for another process (the whole busyTimeout, once, at start); every
    // statement after it waits without blocking.
    db.exec(`PRAGMA busy_timeout = ${busyTimeout}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec(schemaSql(SQLITE, SESSIONKIT_TABLE, table));
    // A table made by an older sessionkit gets the user index columns (accounts and devices).
    const existing = db
      .prepare(`SELECT name FROM pragma_table_info('${table.name}'${table.schema ? `, '${table.schema.slice(1, -2)}'` : ''})`)
      .all() as {
      name: string;
    }[];
    db.exec(upgradeSql(SQLITE, SESSIONKIT_TABLE, table, new Set(existing.map((c) => c.name))));
    db.exec(`PRAGMA busy_timeout = ${Math.min(busyTimeout, LOCK_WAIT_MS)}`);
  } catch (err) {
    db.close();
    throw new StoreUnavailableError(`cannot open the SQLite store at ${path}: ${(err as Error).message}`, { cause: err });
  }
  return {
    driver: sqliteDriver(db, { lockTimeout: busyTimeout }),
    shape: SESSIONKIT_TABLE,
    table,
    codec: jsonCodec(options.logger ?? consoleLogger, 'SqliteStore'),
    label: 'SQLite',
    createTable: false,
    missingTable: 'it was dropped after the store was made; make a new SqliteStore, which creates it',
  };
}

/**
 * The embedded default: one SQLite file in WAL mode, which several processes may share. Keys
 * are kept as SHA-256 digests; versions make every update a compare-and-set. The driver is loaded
 * when the store is made, never when sessionkit is imported; with none installed the constructor
 * throws ConfigError saying what to install.
 */
export class SqliteStore extends SqlStore {
  constructor(options: SqliteStoreOptions = {}) {
    super(configure(options ?? {}));
  }

  /** `sqlite:./file.sqlite3`, `sqlite:///abs/path` or `sqlite::memory:`, as `createStore` takes it. */
  static fromUrl(url: string, options: Omit<SqliteStoreOptions, 'path'> & CreateStoreOptions = {}): SqliteStore {
    const m = /^sqlite:(.*)$/i.exec(url);
    let path = m?.[1] ?? '';
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path and sqlite://./rel
    if (path === '') throw new ConfigError('url', `${JSON.stringify(url)} names no file; write e.g. sqlite:./sessions.sqlite3`);
    return new SqliteStore({ ...options, path: decodeURIComponent(path) });
  }
}

/** Creates the folder of a database file; node:fs is reached at construction, never at import. */
function makeParentFolder(path: string): void {
  const fs = builtin<typeof import('node:fs')>('node:fs');
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  if (fs && cut > 0) fs.mkdirSync(path.slice(0, cut), { recursive: true });
}
