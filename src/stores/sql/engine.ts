import { type SessionData, decodeData, encodeData } from '../../core/codec.js';
import { ConfigError, StoreUnavailableError } from '../../core/errors.js';
import { digestKey } from '../../core/keys.js';
import type { Logger } from '../../core/log.js';
import type { SessionStore, StoredSession, StoreStats, UpdateResult, UserIndexedStore } from '../../core/store.js';
import { type IndexedSession, userIdOf } from '../../core/accounts.js';

/*
 * One SQL session store, configured three ways (Django's contrib/sessions `db.py`, which a custom
 * table subclasses, is the model):
 *   - a driver: how statements reach the database (SQLite through better-sqlite3, node:sqlite or
 *     bun:sqlite; PostgreSQL through a pg Pool), with its SQL dialect;
 *   - a table shape: column names, how keys, expiry and versions are kept (sessionkit's own table
 *     with digested keys and a version column; Django's django_session with clear keys and a
 *     version derived from the data);
 *   - a codec: how session data becomes the text in the data column (JSON; Django's signed format).
 * SqliteStore, PostgresStore and DjangoStore are thin configurations of SqlStore.
 */

export type DialectName = 'sqlite' | 'postgres';

export interface Dialect {
  readonly name: DialectName;
  /** Turns a statement written with `?` placeholders into the driver's own. */
  placeholders(sql: string): string;
  /** Whether an UPDATE can sit in a WITH clause, so that an update and its "was it live?" check are one round trip. */
  readonly writableCte: boolean;
  /** SQL for the size in bytes of a text column. */
  octets(column: string): string;
  /** Column types of the store's own tables. */
  readonly types: Record<ColumnType, string>;
  /** Appended to CREATE TABLE of the store's own tables. */
  readonly tableSuffix: string;
  /** Rows one clearExpired statement deletes at first; the engine adapts it to `clearBatchMs`, between 100 and twice this. */
  readonly clearBatch: number;
  /**
   * Wall time one clearExpired batch aims at, in milliseconds. Between batches the engine yields to
   * the event loop; where a batch holds a lock other processes wait for (SQLite's single writer),
   * it also pauses as long as the batch took, so their writes get in between.
   */
  readonly clearBatchMs: number;
  readonly pauseBetweenBatches: boolean;
}

/** What a driver failure was, as far as the engine needs to tell the user. */
export type FailureKind = 'timeout' | 'busy' | 'missing-table' | 'other';

/** How statements reach the database. Every method may reject with the driver's own error; the engine maps it. */
export interface SqlDriver {
  readonly dialect: Dialect;
  /** Runs a statement that returns rows. */
  all(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>;
  /** Runs DDL (several statements), e.g. CREATE TABLE IF NOT EXISTS. */
  exec(sql: string): Promise<void>;
  classify(err: unknown): FailureKind;
  /** Added to a failure the user can only fix outside sessionkit ('; check that PostgreSQL is up and reachable'). */
  readonly reachHint: string;
  /** What a timeout or a busy failure means for this driver, naming the option that bounds it. */
  describe(kind: 'timeout' | 'busy'): string;
  /** Releases what the driver attached to the connection (listeners); never closes a connection the user passed. */
  close(): Promise<void>;
}

export type ColumnType = 'text' | 'integer';

export interface Column {
  name: string;
  type: ColumnType;
  primaryKey?: boolean;
  /** Also create an index on this column (named TABLE_COLUMN). */
  index?: boolean;
  /** Nullable; the default is NOT NULL. */
  nullable?: boolean;
  /** Added after the first release: a table made before it gets it by ALTER TABLE (see upgradeSql). Nullable. */
  added?: boolean;
}

/** How expiry is kept in one dialect: milliseconds since the epoch to the column's value and back. */
export interface ExpiryFormat {
  write(ms: number): unknown;
  read(value: unknown): number;
}

export interface TableShape {
  /** The default table name. */
  readonly table: string;
  readonly keyColumn: string;
  readonly dataColumn: string;
  readonly expiryColumn: string;
  /** The key as stored: a digest, or the key itself. */
  storedKey(key: string): string;
  expiry(dialect: DialectName): ExpiryFormat;
  /** Whether a row whose expiry equals now is expired (clearExpired, stats): sessionkit's tables yes, Django's `expire_date < now` no. */
  readonly expiredAtExpiry: boolean;
  /**
   * The compare-and-set version: a column bumped on every write, or a number derived from the
   * stored text (for tables without a version column). `sql`, where a dialect can compute the
   * derived version itself, makes the compare-and-set one statement; elsewhere the engine reads
   * the row, compares, and updates conditional on the text it read.
   */
  readonly version:
    | { column: string }
    | {
        derive(text: string): number;
        sql?: Partial<Record<DialectName, { expression(column: string): string; param(version: number): unknown }>>;
      };
  /** The columns of a table the store creates itself; null when another program owns the schema (Django's migrate). */
  readonly columns: readonly Column[] | null;
  /**
   * The columns of the user index (accounts and devices): the user id `login` bound the session
   * to (indexed), and when a request last came with it; or, for a table without them, the reason
   * listing and revoking by user is refused.
   */
  readonly accounts: { userColumn: string; lastSeenColumn: string } | { noUserIndex: string };
}

/** How session data becomes the text of the data column, and back. `decode` never throws: bad text reads as `{}` and is logged. */
export interface DataCodec {
  encode(data: SessionData, now: number): string;
  decode(text: string): SessionData;
}

/** sessionkit's own table: SHA-256 digests of the keys, expiry in milliseconds, a version column. */
export const SESSIONKIT_TABLE: TableShape = {
  table: 'sessionkit_sessions',
  keyColumn: 'key_hash',
  dataColumn: 'data',
  expiryColumn: 'expires_at',
  storedKey: digestKey,
  expiry: () => MILLISECONDS,
  expiredAtExpiry: true,
  version: { column: 'version' },
  columns: [
    { name: 'key_hash', type: 'text', primaryKey: true },
    { name: 'data', type: 'text' },
    { name: 'expires_at', type: 'integer', index: true },
    { name: 'version', type: 'integer' },
    { name: 'user_id', type: 'text', nullable: true, index: true, added: true },
    { name: 'last_seen', type: 'integer', nullable: true, added: true },
  ],
  accounts: { userColumn: 'user_id', lastSeenColumn: 'last_seen' },
};

const MILLISECONDS: ExpiryFormat = { write: (ms) => Math.floor(ms), read: Number };

/** Session data as JSON text; a row that is not a JSON object reads as `{}` and is logged with `where`. */
export function jsonCodec(logger: Logger, where: string): DataCodec {
  return { encode: (data) => encodeData(data), decode: (text) => decodeData(text, logger, where) };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface TableName {
  /** Quoted, possibly schema-qualified: `"app"."sessions"`. */
  readonly sql: string;
  /** Quoted schema prefix with its dot (`"app".`), or ''. */
  readonly schema: string;
  /** The bare table name. */
  readonly name: string;
}

/** Checks `table` or `schema.table` (letters, digits and _, at most 63 each) and quotes it; a ConfigError otherwise. */
export function parseTable(table: unknown, example: string): TableName {
  const parts = typeof table === 'string' ? table.split('.') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new ConfigError(
      'table',
      `${JSON.stringify(table)} is not an SQL identifier; use letters, digits and _, optionally schema-qualified as schema.table (e.g. ${example})`,
    );
  }
  const name = parts[parts.length - 1]!;
  const schema = parts.length === 2 ? `"${parts[0]}".` : '';
  return { sql: `${schema}"${name}"`, schema, name };
}

/** Checks a duration option in whole milliseconds (`min` 0 or 1). */
export function resolveMilliseconds(option: string, value: unknown, fallback: number, min: 0 | 1): number {
  const ms = value ?? fallback;
  if (!Number.isInteger(ms) || (ms as number) < min)
    throw new ConfigError(option, `give whole milliseconds${min === 1 ? ' above 0' : ''}, e.g. ${fallback}`);
  return ms as number;
}

function indexSql(dialect: Dialect, table: TableName, c: Column): string {
  // SQLite puts the schema on the index's name, PostgreSQL on the table's (an index lives in its table's schema).
  return dialect.name === 'sqlite'
    ? `CREATE INDEX IF NOT EXISTS ${table.schema}"${table.name}_${c.name}" ON "${table.name}" (${c.name});`
    : `CREATE INDEX IF NOT EXISTS "${table.name}_${c.name}" ON ${table.sql} (${c.name});`;
}

/**
 * CREATE TABLE and its indexes (idempotent) for a table the store owns. On PostgreSQL it also adds
 * the columns a table made by an older sessionkit lacks (ADD COLUMN IF NOT EXISTS), so running it
 * again is the migration; SQLite has no such clause: its store runs upgradeSql after it.
 */
export function schemaSql(dialect: Dialect, shape: TableShape, table: TableName): string {
  if (!shape.columns) throw new Error('sessionkit: this table is created by its owner, not by the store');
  const columns = shape.columns.map(
    (c) => `  ${c.name} ${dialect.types[c.type]}${c.primaryKey ? ' PRIMARY KEY' : ''}${c.nullable ? '' : ' NOT NULL'}`,
  );
  const postgres = dialect.name === 'postgres';
  const added = postgres
    ? shape.columns
        .filter((c) => c.added)
        .map((c) => `ALTER TABLE ${table.sql} ADD COLUMN IF NOT EXISTS ${c.name} ${dialect.types[c.type]};`)
    : [];
  const indexes = shape.columns.filter((c) => c.index && (postgres || !c.added)).map((c) => indexSql(dialect, table, c));
  return `CREATE TABLE IF NOT EXISTS ${table.sql} (\n${columns.join(',\n')}\n)${dialect.tableSuffix};\n${[...added, ...indexes].join('\n')}\n`;
}

/** SQLite's migration: the columns a table made by an older sessionkit lacks (given those it has), and their indexes. */
export function upgradeSql(dialect: Dialect, shape: TableShape, table: TableName, existing: ReadonlySet<string>): string {
  const added = (shape.columns ?? []).filter((c) => c.added);
  const alters = added
    .filter((c) => !existing.has(c.name))
    .map((c) => `ALTER TABLE ${table.sql} ADD COLUMN ${c.name} ${dialect.types[c.type]};`);
  return [...alters, ...added.filter((c) => c.index).map((c) => indexSql(dialect, table, c))].join('\n');
}

export interface SqlStoreConfig {
  driver: SqlDriver;
  shape: TableShape;
  table: TableName;
  codec: DataCodec;
  /** Names the store in error messages: 'SQLite', 'Django PostgreSQL'. */
  label: string;
  /** Create the table before the first query (the store's own tables); false when it exists or another program owns it. */
  createTable: boolean;
  /** What to do about a missing table, e.g. "run Django's manage.py migrate, or pass table". */
  missingTable: string;
}

type Statement = string;

function statements(config: SqlStoreConfig) {
  const { dialect } = config.driver;
  const { shape } = config;
  const t = config.table.sql;
  const k = shape.keyColumn;
  const d = shape.dataColumn;
  const e = shape.expiryColumn;
  const live = `${k} = ? AND ${e} > ?`;
  const expired = `${e} ${shape.expiredAtExpiry ? '<=' : '<'} ?`;
  const version = 'column' in shape.version ? shape.version.column : null;
  const derivedSql = 'derive' in shape.version ? shape.version.sql?.[dialect.name] : undefined;
  // The compare-and-set condition, when the database can check it in the UPDATE itself.
  const cas = version ? `${version} = ?` : derivedSql ? `${derivedSql.expression(d)} = ?` : null;
  const acc = 'userColumn' in shape.accounts ? shape.accounts : null;
  const u = acc?.userColumn;
  const seen = acc?.lastSeenColumn;
  const set = `${d} = ?, ${e} = ?${acc ? `, ${u} = ?, ${seen} = ?` : ''}${version ? `, ${version} = ${version} + 1` : ''}`;
  const update = `UPDATE ${t} SET ${set} WHERE ${live} AND ${cas ?? `${d} = ?`}`;
  const q = (sql: string): Statement => dialect.placeholders(sql);
  return {
    load: q(
      `SELECT ${d} AS data, ${e} AS expiry${version ? `, ${version} AS version` : ''}${acc ? `, ${seen} AS seen` : ''} FROM ${t} WHERE ${live}`,
    ),
    create: q(
      `INSERT INTO ${t} (${k}, ${d}, ${e}${acc ? `, ${u}, ${seen}` : ''}${version ? `, ${version}` : ''}) VALUES (?, ?, ?${acc ? ', ?, ?' : ''}${version ? ', 1' : ''}) ON CONFLICT (${k}) DO NOTHING`,
    ),
    accounts: acc !== null,
    touch: q(`UPDATE ${t} SET ${e} = ?${acc ? `, ${seen} = ?` : ''} WHERE ${live}`),
    listByUser: q(
      `SELECT ${k} AS id, ${d} AS data, ${e} AS expiry${acc ? `, ${seen} AS seen` : ''} FROM ${t} WHERE ${u ?? 'NULL'} = ? AND ${e} > ?`,
    ),
    /** UPDATE … WHERE live AND the version still matches (or the text is still the one read). */
    update: q(update),
    /** The same, and whether a live row existed, in one round trip (dialects with writable CTEs). */
    updateOrProbe:
      cas && dialect.writableCte
        ? q(
            `WITH u AS (${update} RETURNING ${version ?? '0'} AS version)
             SELECT (SELECT version FROM u) AS updated, EXISTS (SELECT 1 FROM ${t} WHERE ${live}) AS live`,
          )
        : null,
    cas: cas !== null,
    live: q(`SELECT 1 AS one FROM ${t} WHERE ${live}`),
    delete: q(`DELETE FROM ${t} WHERE ${k} = ?`),
    exists: q(`SELECT 1 AS one FROM ${t} WHERE ${k} = ?`),
    clearBatch: q(`DELETE FROM ${t} WHERE ${k} IN (SELECT ${k} FROM ${t} WHERE ${expired} LIMIT ?)`),
    stats: q(
      `SELECT count(*) AS count, coalesce(sum(CASE WHEN ${expired} THEN 1 ELSE 0 END), 0) AS expired, coalesce(sum(${dialect.octets(d)}), 0) AS bytes FROM ${t}`,
    ),
  };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A server-side session store over one SQL table. Every update is a compare-and-set on the
 * version the request loaded; expiry is compared with the `now` the caller gives (milliseconds),
 * never the database clock. Every driver failure and timeout is a StoreUnavailableError.
 */
export class SqlStore implements SessionStore, UserIndexedStore {
  /** Why listing and revoking by user is refused (a table without the user index), or undefined. A field, not a getter: stores may be wrapped in a Proxy. */
  readonly noUserIndex: string | undefined;
  readonly #driver: SqlDriver;
  readonly #shape: TableShape;
  readonly #codec: DataCodec;
  readonly #label: string;
  readonly #missingTable: string;
  readonly #expiry: ExpiryFormat;
  readonly #sql: ReturnType<typeof statements>;
  readonly #schema: string | null;
  #ready: Promise<void> | null = null;
  #closed = false;

  protected constructor(config: SqlStoreConfig) {
    this.#driver = config.driver;
    this.#shape = config.shape;
    this.noUserIndex = 'noUserIndex' in config.shape.accounts ? config.shape.accounts.noUserIndex : undefined;
    this.#codec = config.codec;
    this.#label = config.label;
    this.#missingTable = config.missingTable;
    this.#expiry = config.shape.expiry(config.driver.dialect.name);
    this.#sql = statements(config);
    this.#schema = config.createTable ? schemaSql(config.driver.dialect, config.shape, config.table) : null;
  }

  /** Creates the table once, lazily; a failure is retried by the next call. */
  #ensureTable(): Promise<void> | null {
    if (this.#schema === null) return null;
    return (this.#ready ??= this.#driver.exec(this.#schema).catch((err) => {
      this.#ready = null;
      throw this.#unavailable('create the table', err);
    }));
  }

  /** Sends one statement: the table made first where the store owns it, every failure mapped. */
  async #send<T>(what: string, send: (driver: SqlDriver) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError(`${this.#label} ${what} failed: the store was closed`);
    try {
      await this.#ensureTable();
      return await send(this.#driver);
    } catch (err) {
      throw this.#unavailable(what, err);
    }
  }

  #all(what: string, sql: Statement, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
    return this.#send(what, (driver) => driver.all(sql, params));
  }

  #run(what: string, sql: Statement, params: readonly unknown[]): Promise<number> {
    return this.#send(what, (driver) => driver.run(sql, params));
  }

  /** The one place a driver failure becomes a StoreUnavailableError. */
  #unavailable(what: string, err: unknown): StoreUnavailableError {
    if (err instanceof StoreUnavailableError) return err;
    const kind = this.#driver.classify(err);
    const text = (err as Error)?.message ?? String(err);
    let message: string;
    if (kind === 'timeout') message = `${this.#label} ${what} ${this.#driver.describe('timeout')}`;
    else if (kind === 'busy') message = `${this.#label} ${what} failed: ${text}: ${this.#driver.describe('busy')}`;
    else if (kind === 'missing-table') message = `${this.#label} ${what} failed: ${text}; the table is missing: ${this.#missingTable}`;
    else message = `${this.#label} ${what} failed: ${text}${this.#driver.reachHint}`;
    return new StoreUnavailableError(message, { cause: err });
  }

  #versionOf(row: Record<string, unknown>): number {
    const v = this.#shape.version;
    return 'column' in v ? Number(row.version) : v.derive(row.data as string);
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    const [row] = await this.#all('load', this.#sql.load, [this.#shape.storedKey(key), this.#expiry.write(now)]);
    if (!row) return null;
    const found: StoredSession = {
      data: this.#codec.decode(row.data as string),
      expiresAt: this.#expiry.read(row.expiry),
      version: this.#versionOf(row),
    };
    if (this.#sql.accounts && row.seen !== null && row.seen !== undefined) found.lastSeenAt = Number(row.seen);
    return found;
  }

  /** The user index columns of a write: the user the data names, and now as the last-seen time. */
  #accountParams(data: SessionData, now: number): unknown[] {
    return this.#sql.accounts ? [userIdOf(data), Math.floor(now)] : [];
  }

  async create(key: string, data: SessionData, expiresAt: number, now = Date.now()): Promise<number | null> {
    const text = this.#codec.encode(data, now);
    const changes = await this.#run('create', this.#sql.create, [
      this.#shape.storedKey(key),
      text,
      this.#expiry.write(expiresAt),
      ...this.#accountParams(data, now),
    ]);
    if (changes !== 1) return null;
    const v = this.#shape.version;
    return 'column' in v ? 1 : v.derive(text);
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const text = this.#codec.encode(data, now);
    const id = this.#shape.storedKey(key);
    const at = this.#expiry.write(now);
    const v = this.#shape.version;
    const newVersion = (returned: unknown) =>
      'column' in v ? (returned === undefined ? expectedVersion + 1 : Number(returned)) : v.derive(text);
    const head = [text, this.#expiry.write(expiresAt), ...this.#accountParams(data, now), id, at];
    if (this.#sql.cas) {
      const expected = 'column' in v ? expectedVersion : v.sql![this.#driver.dialect.name]!.param(expectedVersion);
      if (this.#sql.updateOrProbe) {
        const [row] = await this.#all('update', this.#sql.updateOrProbe, [...head, expected, id, at]);
        if (row!.updated !== null && row!.updated !== undefined) return { status: 'ok', version: newVersion(row!.updated) };
        return row!.live ? { status: 'conflict' } : { status: 'missing' };
      }
      if ((await this.#run('update', this.#sql.update, [...head, expected])) === 1) return { status: 'ok', version: newVersion(undefined) };
    } else {
      // A version derived from the text, which this database cannot compute: read the live row,
      // compare, and write only if the text is still the one that was read.
      const [row] = await this.#all('update', this.#sql.load, [id, at]);
      if (!row) return { status: 'missing' };
      if (this.#versionOf(row) !== expectedVersion) return { status: 'conflict' };
      if ((await this.#run('update', this.#sql.update, [...head, row.data])) === 1) return { status: 'ok', version: newVersion(undefined) };
    }
    const live = await this.#all('update', this.#sql.live, [id, at]);
    return live.length > 0 ? { status: 'conflict' } : { status: 'missing' };
  }

  async delete(key: string): Promise<void> {
    await this.#run('delete', this.#sql.delete, [this.#shape.storedKey(key)]);
  }

  // Accounts and devices: an indexed user column in the session's own row, so a deleted or
  // expired session leaves no index entry behind (clearExpired removes the row and its entry).

  async touch(key: string, expiresAt: number, now: number): Promise<boolean> {
    const seen = this.#sql.accounts ? [Math.floor(now)] : [];
    const params = [this.#expiry.write(expiresAt), ...seen, this.#shape.storedKey(key), this.#expiry.write(now)];
    return (await this.#run('touch', this.#sql.touch, params)) === 1;
  }

  async listByUser(userId: string, now: number): Promise<IndexedSession[]> {
    if (!this.#sql.accounts) return [];
    const rows = await this.#all('listByUser', this.#sql.listByUser, [userId, this.#expiry.write(now)]);
    return rows.map((row) => ({
      id: row.id as string,
      data: this.#codec.decode(row.data as string),
      expiresAt: this.#expiry.read(row.expiry),
      lastSeenAt: row.seen === null || row.seen === undefined ? null : Number(row.seen),
    }));
  }

  /** The id is the digest the key column holds, so a revoke is a delete by primary key. */
  async revoke(id: string): Promise<boolean> {
    if (!this.#sql.accounts) return false;
    return (await this.#run('revoke', this.#sql.delete, [id])) === 1;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.#all('exists', this.#sql.exists, [this.#shape.storedKey(key)])).length > 0;
  }

  /**
   * Deletes expired rows in batches, yielding to the event loop between them, so that neither this
   * process nor (on SQLite) another one waiting for the write lock is held up for more than one batch.
   */
  async clearExpired(now = Date.now()): Promise<number> {
    const { dialect } = this.#driver;
    const at = this.#expiry.write(now);
    let batch = dialect.clearBatch;
    let total = 0;
    for (;;) {
      const started = performance.now();
      const removed = await this.#run('clearExpired', this.#sql.clearBatch, [at, batch]);
      total += removed;
      if (removed < batch) return total;
      const took = performance.now() - started;
      // Aim each batch at clearBatchMs: grow while batches are quick, shrink when one was slow.
      batch = Math.max(100, Math.min(2 * dialect.clearBatch, Math.round(batch * Math.min(2, dialect.clearBatchMs / Math.max(took, 0.1)))));
      if (dialect.pauseBetweenBatches) await sleep(Math.min(Math.ceil(took), 50));
      else await yieldToEventLoop();
    }
  }

  async stats(now = Date.now()): Promise<StoreStats> {
    const [row] = await this.#all('stats', this.#sql.stats, [this.#expiry.write(now)]);
    return { count: Number(row!.count), expired: Number(row!.expired), bytes: Number(row!.bytes) };
  }

  /** Releases what the store attached; later calls fail with StoreUnavailableError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#driver.close();
  }
}
