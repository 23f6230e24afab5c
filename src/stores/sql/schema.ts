// The SQL side of SqlStore: dialects, drivers, table shapes, the schema and the statements.
import { type SessionData, decodeData, encodeData } from '../../core/codec.js';
import { ConfigError } from '../../core/errors.js';
import { digestKey } from '../../core/keys.js';
import type { Logger } from '../../core/log.js';

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
   * synchronous `load` and `update` use it. Its statements throw the driver's own errors, and a busy
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

export const MILLISECONDS: ExpiryFormat = { write: (ms) => Math.floor(ms), read: Number };

/** Session data as JSON text; a row that is not a JSON object reads as `{}` and is logged with `where`. */
export function jsonCodec(logger: Logger, where: string): DataCodec {
  return { encode: (data) => encodeData(data), decode: (text) => decodeData(text, logger, where) };
}

export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

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

export function indexSql(dialect: Dialect, table: TableName, c: Column): string {
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
  /** The table keeps session keys in clear (Django's). */
  keysInClear?: boolean;
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

export type Statement = string;

export function statements(config: SqlStoreConfig) {
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
