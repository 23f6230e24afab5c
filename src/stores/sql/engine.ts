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
  /**
   * Whether an update first leaves the user column out of its SET, conditional on the user being
   * the same (and sets it only when it changed). SQLite rewrites the index entry of every column
   * an UPDATE sets, changed or not: one more page written per save. PostgreSQL adds an entry to
   * every index on any update that changes an indexed column (the expiry), so it gains nothing.
   */
  readonly keepUnchangedUser: boolean;
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
  /**
   * What a timeout or a busy failure means for this driver, naming the option that bounds it;
   * `busy-now`: a busy failure of a statement answered synchronously (which waits for no timer).
   */
  describe(kind: 'timeout' | 'busy' | 'busy-now'): string;
  /** Releases what the driver attached to the connection (listeners); never closes a connection the user passed. */
  close(): Promise<void>;
  /**
   * The same connection answering synchronously, for drivers that can (SQLite's): the store's
   * `loadSync` and `updateSync` use it. Its statements throw the driver's own errors, and a busy
   * database at once, without the timed retries of `all` and `run`.
   */
  readonly sync?: SyncSqlDriver;
  /**
   * Work around clearExpired's batches, best effort (failures are ignored): `begin` before the
   * first, `between` after each (synchronous; the engine yields before and after it), `end` after
   * the last. SQLite checkpoints its write-ahead log in `between`, a batch's pages at a time.
   */
  readonly clearing?: { begin(): void; between(): void; end(): void };
}

/** A driver's synchronous side (see SqlDriver.sync). */
export interface SyncSqlDriver {
  /** Prepares a statement once; the store keeps it. */
  prepare(sql: string): SyncStatement;
  exec(sql: string): void;
}

export interface SyncStatement {
  /** The first row, or undefined. */
  get(params: readonly unknown[]): Record<string, unknown> | undefined;
  /** Runs a write; the number of rows it changed. */
  run(params: readonly unknown[]): number;
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
  /** How long one statement may take, in milliseconds (PostgreSQL's `timeout` option); see SessionStore.timeout. */
  timeout?: number;
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
  const sameUser =
    acc && cas && dialect.keepUnchangedUser
      ? `UPDATE ${t} SET ${d} = ?, ${e} = ?, ${seen} = ?${version ? `, ${version} = ${version} + 1` : ''} WHERE ${live} AND ${cas} AND ${u} IS ?`
      : null;
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
    /** The same, leaving the user column as it is, where it already names the user (Dialect.keepUnchangedUser). */
    updateSameUser: sameUser === null ? null : q(sameUser),
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

/** One statement of an update (see SqlStore#updatePlan): `row` asks for its first row, otherwise for how many rows it changed. */
interface Step {
  sql: Statement;
  params: unknown[];
  row: boolean;
}

/**
 * A server-side session store over one SQL table. Every update is a compare-and-set on the
 * version the request loaded; expiry is compared with the `now` the caller gives (milliseconds),
 * never the database clock. Every driver failure and timeout is a StoreUnavailableError.
 * Over a driver that answers synchronously (SQLite's) it also has `loadSync` and `updateSync`,
 * the same statements answered at once; over any other they are undefined.
 */
export class SqlStore implements SessionStore, UserIndexedStore {
  /** Why listing and revoking by user is refused (a table without the user index), or undefined. A field, not a getter: stores may be wrapped in a Proxy. */
  readonly noUserIndex: string | undefined;
  /** See SessionStore.timeout. */
  readonly timeout: number | undefined;
  readonly #driver: SqlDriver;
  readonly #sync: SyncSqlDriver | undefined;
  readonly #shape: TableShape;
  readonly #codec: DataCodec;
  readonly #label: string;
  readonly #missingTable: string;
  readonly #expiry: ExpiryFormat;
  readonly #sql: ReturnType<typeof statements>;
  readonly #schema: string | null;
  /** The synchronous side's statements, prepared on first use. */
  readonly #prepared = new Map<Statement, SyncStatement>();
  #ready: Promise<void> | null = null;
  #tableMade = false;
  #closed = false;

  protected constructor(config: SqlStoreConfig) {
    this.timeout = config.timeout;
    this.#driver = config.driver;
    this.#sync = config.driver.sync;
    this.#shape = config.shape;
    this.noUserIndex = 'noUserIndex' in config.shape.accounts ? config.shape.accounts.noUserIndex : undefined;
    this.#codec = config.codec;
    this.#label = config.label;
    this.#missingTable = config.missingTable;
    this.#expiry = config.shape.expiry(config.driver.dialect.name);
    this.#sql = statements(config);
    this.#schema = config.createTable ? schemaSql(config.driver.dialect, config.shape, config.table) : null;
    // A driver that only answers asynchronously (pg): no twins, so the engine awaits load and update.
    if (this.#sync === undefined) Object.defineProperties(this, { loadSync: { value: undefined }, updateSync: { value: undefined } });
  }

  /** Creates the table once, lazily; a failure is retried by the next call. */
  #ensureTable(): Promise<void> | null {
    if (this.#schema === null || this.#tableMade) return null;
    return (this.#ready ??= this.#driver.exec(this.#schema).then(
      () => {
        this.#tableMade = true;
      },
      (err) => {
        this.#ready = null;
        throw this.#unavailable('create the table', err);
      },
    ));
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

  /** A statement of the synchronous side, prepared once (the table made first where the store owns it). */
  #prepare(sql: Statement): SyncStatement {
    let statement = this.#prepared.get(sql);
    if (statement === undefined) {
      if (this.#schema !== null && !this.#tableMade) {
        this.#sync!.exec(this.#schema);
        this.#tableMade = true;
      }
      statement = this.#sync!.prepare(sql);
      this.#prepared.set(sql, statement);
    }
    return statement;
  }

  /** One statement on the synchronous side: its first row (`row`) or how many rows it changed. Throws the driver's error. */
  #now(what: string, step: Step): unknown {
    if (this.#closed) throw new StoreUnavailableError(`${this.#label} ${what} failed: the store was closed`);
    const statement = this.#prepare(step.sql);
    return step.row ? statement.get(step.params) : statement.run(step.params);
  }

  /** The one place a driver failure becomes a StoreUnavailableError; `now`: it came from the synchronous side. */
  #unavailable(what: string, err: unknown, now = false): StoreUnavailableError {
    if (err instanceof StoreUnavailableError) return err;
    const kind = this.#driver.classify(err);
    const text = (err as Error)?.message ?? String(err);
    let message: string;
    if (kind === 'timeout') message = `${this.#label} ${what} ${this.#driver.describe('timeout')}`;
    else if (kind === 'busy') message = `${this.#label} ${what} failed: ${text}: ${this.#driver.describe(now ? 'busy-now' : 'busy')}`;
    else if (kind === 'missing-table') message = `${this.#label} ${what} failed: ${text}; the table is missing: ${this.#missingTable}`;
    else message = `${this.#label} ${what} failed: ${text}${this.#driver.reachHint}`;
    return new StoreUnavailableError(message, { cause: err });
  }

  #versionOf(row: Record<string, unknown>): number {
    const v = this.#shape.version;
    return 'column' in v ? Number(row.version) : v.derive(row.data as string);
  }

  /** A loaded row as the contract gives it. */
  #stored(row: Record<string, unknown>): StoredSession {
    const found: StoredSession = {
      data: this.#codec.decode(row.data as string),
      expiresAt: this.#expiry.read(row.expiry),
      version: this.#versionOf(row),
    };
    if (this.#sql.accounts && row.seen !== null && row.seen !== undefined) found.lastSeenAt = Number(row.seen);
    return found;
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    const [row] = await this.#all('load', this.#sql.load, [this.#shape.storedKey(key), this.#expiry.write(now)]);
    return row ? this.#stored(row) : null;
  }

  /**
   * `load`, answered at once (SQLite). A read waits for no writer in WAL mode; one kept out by a
   * lock that bars readers (another connection in locking_mode=EXCLUSIVE) for longer than SQLite's
   * own wait throws StoreUnavailableError at once, where `load` would retry until busyTimeout.
   */
  loadSync?(key: string, now = Date.now()): StoredSession | null {
    let row: Record<string, unknown> | undefined;
    try {
      row = this.#now('load', { sql: this.#sql.load, params: [this.#shape.storedKey(key), this.#expiry.write(now)], row: true }) as
        | Record<string, unknown>
        | undefined;
    } catch (err) {
      throw this.#unavailable('load', err, true);
    }
    return row ? this.#stored(row) : null;
  }

  async create(key: string, data: SessionData, expiresAt: number, now = Date.now()): Promise<number | null> {
    const text = this.#codec.encode(data, now);
    const changes = await this.#run('create', this.#sql.create, [
      this.#shape.storedKey(key),
      text,
      this.#expiry.write(expiresAt),
      ...(this.#sql.accounts ? [userIdOf(data), Math.floor(now)] : []),
    ]);
    if (changes !== 1) return null;
    const v = this.#shape.version;
    return 'column' in v ? 1 : v.derive(text);
  }

  /**
   * The statements of an update, one at a time, each fed back its answer (the first row, or the
   * rows changed): `update` runs them awaiting each, `updateSync` at once, so the two cannot differ.
   */
  *#updatePlan(
    key: string,
    data: SessionData,
    expiresAt: number,
    expectedVersion: number,
    now: number,
  ): Generator<Step, UpdateResult, unknown> {
    const text = this.#codec.encode(data, now);
    const id = this.#shape.storedKey(key);
    const at = this.#expiry.write(now);
    const until = this.#expiry.write(expiresAt);
    const v = this.#shape.version;
    const ok = (returned?: unknown): UpdateResult => ({
      status: 'ok',
      version: 'column' in v ? (returned === undefined ? expectedVersion + 1 : Number(returned)) : v.derive(text),
    });
    const user = this.#sql.accounts ? userIdOf(data) : null;
    const seenAt = Math.floor(now);
    const head = [text, until, ...(this.#sql.accounts ? [user, seenAt] : []), id, at];
    if (this.#sql.cas) {
      const expected = 'column' in v ? expectedVersion : v.sql![this.#driver.dialect.name]!.param(expectedVersion);
      if (this.#sql.updateOrProbe) {
        const row = (yield { sql: this.#sql.updateOrProbe, params: [...head, expected, id, at], row: true }) as Record<string, unknown>;
        if (row.updated !== null && row.updated !== undefined) return ok(row.updated);
        return row.live ? { status: 'conflict' } : { status: 'missing' };
      }
      // Most saves keep the user: leaving its indexed column out of the SET spares a page write.
      if (
        this.#sql.updateSameUser &&
        (yield { sql: this.#sql.updateSameUser, params: [text, until, seenAt, id, at, expected, user], row: false }) === 1
      )
        return ok();
      if ((yield { sql: this.#sql.update, params: [...head, expected], row: false }) === 1) return ok();
    } else {
      // A version derived from the text, which this database cannot compute: read the live row,
      // compare, and write only if the text is still the one that was read.
      const row = (yield { sql: this.#sql.load, params: [id, at], row: true }) as Record<string, unknown> | undefined;
      if (!row) return { status: 'missing' };
      if (this.#versionOf(row) !== expectedVersion) return { status: 'conflict' };
      if ((yield { sql: this.#sql.update, params: [...head, row.data], row: false }) === 1) return ok();
    }
    const live = yield { sql: this.#sql.live, params: [id, at], row: true };
    return live ? { status: 'conflict' } : { status: 'missing' };
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const plan = this.#updatePlan(key, data, expiresAt, expectedVersion, now);
    for (let step = plan.next(); ; ) {
      if (step.done) return step.value;
      const { sql, params, row } = step.value;
      step = plan.next(row ? (await this.#all('update', sql, params))[0] : await this.#run('update', sql, params));
    }
  }

  /**
   * `update`, answered at once (SQLite). When another connection holds the write lock past
   * SQLite's own short wait, nothing is written and the answer is `conflict`: a synchronous call
   * cannot wait on a timer, and a conflict sends the caller to `update` (the engine's commit goes
   * on there), whose retries wait for the lock, up to busyTimeout, without blocking the event loop.
   */
  updateSync?(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): UpdateResult {
    const plan = this.#updatePlan(key, data, expiresAt, expectedVersion, now);
    for (let step = plan.next(); ; ) {
      if (step.done) return step.value;
      let answer: unknown;
      try {
        answer = this.#now('update', step.value);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) && this.#driver.classify(err) === 'busy') return { status: 'conflict' };
        throw this.#unavailable('update', err, true);
      }
      step = plan.next(answer);
    }
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
   * process nor (on SQLite) another one waiting for the write lock is held up for more than one
   * batch. The driver's work between batches (SQLite's checkpoints, see SqlDriver.clearing) is a
   * step of its own, with the same pause before and after it.
   */
  async clearExpired(now = Date.now()): Promise<number> {
    const { dialect } = this.#driver;
    const clearing = this.#driver.clearing;
    const pause = (took: number) => (dialect.pauseBetweenBatches ? sleep(Math.min(Math.ceil(took), 50)) : yieldToEventLoop());
    const at = this.#expiry.write(now);
    let batch = dialect.clearBatch;
    let total = 0;
    clearing?.begin();
    try {
      for (;;) {
        const started = performance.now();
        const removed = await this.#run('clearExpired', this.#sql.clearBatch, [at, batch]);
        total += removed;
        if (removed < batch) return total;
        const took = performance.now() - started;
        await pause(took);
        let after = 0;
        if (clearing) {
          const before = performance.now();
          clearing.between();
          after = performance.now() - before;
          await pause(after);
        }
        // Aim each batch, and the work after it (which grows with the pages it wrote), at
        // clearBatchMs: grow while both are quick, shrink when one was slow.
        const slowest = Math.max(took, after, 0.1);
        batch = Math.max(100, Math.min(2 * dialect.clearBatch, Math.round(batch * Math.min(2, dialect.clearBatchMs / slowest))));
      }
    } finally {
      clearing?.end();
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
