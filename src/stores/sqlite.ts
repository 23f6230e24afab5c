import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { consoleLogger, type Logger } from '../core/log.js';
import { decodeData, encodeData, type SessionData } from '../core/codec.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey } from '../core/keys.js';
import type { SessionStore, StoredSession, StoreStats, UpdateResult } from '../core/store.js';

export interface SqliteStoreOptions {
  /** The database file; created with its folder when missing. `:memory:` for a private in-memory database. @default './sessions.sqlite3' */
  path?: string;
  /** The table; created when missing. @default 'sessionkit_sessions' */
  table?: string;
  /** How long a write waits for another process's lock, in milliseconds, before the store reports itself unavailable. @default 5000 */
  busyTimeout?: number;
  /** Where corrupt rows are reported. @default console */
  logger?: Logger;
}

interface Row {
  data: string;
  expires_at: number;
  version: number;
}

function prepareStatements(db: Database.Database, table: string) {
  return {
    load: db.prepare<[string, number], Row>(`SELECT data, expires_at, version FROM ${table} WHERE key_hash = ? AND expires_at > ?`),
    create: db.prepare(`INSERT OR IGNORE INTO ${table} (key_hash, data, expires_at, version) VALUES (?, ?, ?, 1)`),
    update: db.prepare(
      `UPDATE ${table} SET data = ?, expires_at = ?, version = version + 1 WHERE key_hash = ? AND version = ? AND expires_at > ?`,
    ),
    live: db.prepare<[string, number], { version: number }>(`SELECT version FROM ${table} WHERE key_hash = ? AND expires_at > ?`),
    delete: db.prepare(`DELETE FROM ${table} WHERE key_hash = ?`),
    exists: db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM ${table} WHERE key_hash = ?`),
    clearExpired: db.prepare(`DELETE FROM ${table} WHERE expires_at <= ?`),
    stats: db.prepare<[number], { count: number; expired: number | null; bytes: number | null }>(
      `SELECT count(*) AS count, sum(expires_at <= ?) AS expired, sum(length(CAST(data AS BLOB))) AS bytes FROM ${table}`,
    ),
  };
}
type Statements = ReturnType<typeof prepareStatements>;

/**
 * The embedded default: one SQLite file (better-sqlite3) in WAL mode, which several processes
 * may share. Keys are kept as SHA-256 digests; versions make every update a compare-and-set.
 */
export class SqliteStore implements SessionStore {
  readonly #db: Database.Database;
  readonly #logger: Logger;
  readonly #stmt: Statements;

  constructor(options: SqliteStoreOptions = {}) {
    const path = options.path ?? './sessions.sqlite3';
    const table = options.table ?? 'sessionkit_sessions';
    if (typeof path !== 'string' || path === '')
      throw new ConfigError('path', 'give the SQLite file as a non-empty string, e.g. "./sessions.sqlite3"');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table))
      throw new ConfigError('table', `${JSON.stringify(table)} is not a plain SQL identifier; use letters, digits and _`);
    const busyTimeout = options.busyTimeout ?? 5000;
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0) throw new ConfigError('busyTimeout', 'give whole milliseconds, e.g. 5000');
    this.#logger = options.logger ?? consoleLogger;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.#db = new Database(path, { timeout: busyTimeout });
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (
           key_hash TEXT PRIMARY KEY NOT NULL,
           data TEXT NOT NULL,
           expires_at INTEGER NOT NULL,
           version INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at);`,
      );
    } catch (err) {
      throw new StoreUnavailableError(`cannot open the SQLite store at ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.#stmt = prepareStatements(this.#db, table);
  }

  #run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new StoreUnavailableError(`SQLite ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    const row = this.#run('load', () => this.#stmt.load.get(digestKey(key), now));
    if (!row) return null;
    return { data: decodeData(row.data, this.#logger, 'SqliteStore'), expiresAt: row.expires_at, version: row.version };
  }

  async create(key: string, data: SessionData, expiresAt: number, _now?: number): Promise<number | null> {
    const json = encodeData(data);
    const { changes } = this.#run('create', () => this.#stmt.create.run(digestKey(key), json, expiresAt));
    return changes === 1 ? 1 : null;
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const id = digestKey(key);
    const json = encodeData(data);
    const { changes } = this.#run('update', () => this.#stmt.update.run(json, expiresAt, id, expectedVersion, now));
    if (changes === 1) return { status: 'ok', version: expectedVersion + 1 };
    const live = this.#run('update', () => this.#stmt.live.get(id, now));
    return live ? { status: 'conflict' } : { status: 'missing' };
  }

  async delete(key: string): Promise<void> {
    this.#run('delete', () => this.#stmt.delete.run(digestKey(key)));
  }

  async exists(key: string): Promise<boolean> {
    return this.#run('exists', () => this.#stmt.exists.get(digestKey(key)) !== undefined);
  }

  async clearExpired(now = Date.now()): Promise<number> {
    return this.#run('clearExpired', () => this.#stmt.clearExpired.run(now).changes);
  }

  async stats(now = Date.now()): Promise<StoreStats> {
    const row = this.#run('stats', () => this.#stmt.stats.get(now))!;
    return { count: row.count, expired: row.expired ?? 0, bytes: row.bytes ?? 0 };
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
