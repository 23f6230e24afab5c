// Only types come from 'pg' here: sessionkit loads without pg installed (it is an optional peer).
import type { Pool, PoolConfig, QueryConfig, QueryResultRow } from 'pg';
import { consoleLogger, type Logger } from '../core/log.js';
import { decodeData, encodeData, type SessionData } from '../core/codec.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey } from '../core/keys.js';
import { boundedQuery } from './pg-query.js';
import { requireOptional } from '../core/require.js';
import type { CreateStoreOptions } from '../core/store.js';
import type { AnyStore, SessionStore, StoredSession, StoreStats, UpdateResult } from '../core/store.js';

export interface PostgresStoreOptions {
  /** A `pg` Pool. The store never ends a pool it was given: `close()` leaves it to its owner. */
  pool: Pool;
  /** The table, optionally schema-qualified (`app.sessions`); created when missing unless `createTable` is false. @default 'sessionkit_sessions' */
  table?: string;
  /** Where corrupt rows and dropped idle connections are reported. @default console */
  logger?: Logger;
  /** How long any one store call may take, in milliseconds, before it fails with StoreUnavailableError. @default 5000 */
  timeout?: number;
  /** Create the table and its expiry index when missing, once, before the first query. Set false when migrations own the schema (see `PostgresStore.schemaSql`). @default true */
  createTable?: boolean;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Splits and quotes `table` or `schema.table`; throws ConfigError for anything else. */
function parseTable(table: unknown): { qualified: string; index: string } {
  const parts = typeof table === 'string' ? table.split('.') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((p) => IDENT.test(p))) {
    throw new ConfigError(
      'table',
      `${JSON.stringify(table)} is not an SQL identifier; use letters, digits and _, optionally schema-qualified as schema.table`,
    );
  }
  const name = parts[parts.length - 1]!;
  return { qualified: parts.map((p) => `"${p}"`).join('.'), index: `"${name}_expires_at"` };
}

interface Row extends QueryResultRow {
  data: string;
  expires_at: string;
  version: string;
}

/**
 * A durable store shared by every app server: one PostgreSQL table over a `pg` Pool the user
 * passes in. Keys are kept as SHA-256 digests; every update is a compare-and-set on `version`,
 * so parallel requests never lose each other's changes. Expiry is compared with the `now`
 * the caller gives (milliseconds), never the database clock.
 */
export class PostgresStore implements SessionStore {
  readonly #pool: Pool;
  readonly #owned: boolean;
  readonly #logger: Logger;
  readonly #timeout: number;
  readonly #sql: ReturnType<typeof statements>;
  readonly #schema: string | null;
  #ready: Promise<void> | null = null;
  #closed = false;
  readonly #onPoolError = (err: Error) => {
    // An idle pooled connection was dropped (server restart, network, idle timeout). The pool
    // discards it and connects again on the next query; without this listener Node would crash.
    this.#logger.error('PostgreSQL connection lost while idle; the pool will reconnect', { error: err.message });
  };

  /**
   * The SQL that creates the table and its expiry index (idempotent), for a migration:
   * `PostgresStore.schemaSql('sessionkit_sessions')`.
   */
  static schemaSql(table = 'sessionkit_sessions'): string {
    const t = parseTable(table);
    return `CREATE TABLE IF NOT EXISTS ${t.qualified} (
  key_hash text PRIMARY KEY,
  data text NOT NULL,
  expires_at bigint NOT NULL,
  version bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ${t.index} ON ${t.qualified} (expires_at);
`;
  }

  constructor(options: PostgresStoreOptions) {
    const pool = options?.pool as Pool | undefined;
    if (!pool || typeof pool.query !== 'function' || typeof pool.on !== 'function') {
      throw new ConfigError('pool', 'give a pg Pool: new PostgresStore({ pool: new pg.Pool({ connectionString }) })');
    }
    const table = options.table ?? 'sessionkit_sessions';
    const t = parseTable(table);
    const timeout = options.timeout ?? 5000;
    if (!Number.isInteger(timeout) || timeout <= 0) throw new ConfigError('timeout', 'give whole milliseconds above 0, e.g. 5000');
    this.#pool = pool;
    this.#owned = (options as { [OWNED]?: boolean })[OWNED] === true;
    this.#logger = options.logger ?? consoleLogger;
    this.#timeout = timeout;
    this.#sql = statements(t.qualified);
    this.#schema = options.createTable === false ? null : PostgresStore.schemaSql(table);
    if (!this.#schema) this.#ready = Promise.resolve();
    pool.on('error', this.#onPoolError);
  }

  /** Creates the table once, lazily; a failure is retried by the next call. */
  #ensureTable(): Promise<void> {
    if (this.#ready) return this.#ready;
    const ready = this.#createTable().catch((err) => {
      this.#ready = null;
      throw err;
    });
    this.#ready = ready;
    return ready;
  }

  async #createTable(): Promise<void> {
    try {
      await this.#raw('create the table', { text: this.#schema! });
    } catch (err) {
      // Two processes creating the table at once can collide in the catalog (23505 on pg_type,
      // 42P07 duplicate table): the other one won, and IF NOT EXISTS now succeeds.
      const code = ((err as Error).cause as { code?: string } | undefined)?.code;
      if (code !== '23505' && code !== '42P07') throw err;
      await this.#raw('create the table', { text: this.#schema! });
    }
  }

  async #query<R extends QueryResultRow>(what: string, text: string, values: unknown[]): Promise<{ rows: R[]; rowCount: number }> {
    await this.#ensureTable();
    return this.#raw<R>(what, { text, values });
  }

  /** Runs one query bounded by `timeout`, mapping every failure to StoreUnavailableError. */
  #raw<R extends QueryResultRow>(what: string, config: QueryConfig): Promise<{ rows: R[]; rowCount: number }> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError(`PostgreSQL ${what} failed: the store was closed`));
    return boundedQuery<R>(
      this.#pool,
      config,
      this.#timeout,
      () =>
        new StoreUnavailableError(
          `PostgreSQL ${what} did not answer within ${this.#timeout} ms; check that the server is up and reachable, or raise the timeout option`,
        ),
      (err) => this.#unavailable(what, err),
    );
  }

  #unavailable(what: string, err: unknown): StoreUnavailableError {
    if (err instanceof StoreUnavailableError) return err;
    const e = err as { message?: string; code?: string };
    const hint =
      e.code === '42P01'
        ? `; the table is missing: run PostgresStore.schemaSql() in a migration or leave createTable on`
        : '; check that PostgreSQL is up and reachable';
    return new StoreUnavailableError(`PostgreSQL ${what} failed: ${e?.message ?? String(err)}${hint}`, { cause: err });
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    const { rows } = await this.#query<Row>('load', this.#sql.load, [digestKey(key), now]);
    const row = rows[0];
    if (!row) return null;
    return { data: decodeData(row.data, this.#logger, 'PostgresStore'), expiresAt: Number(row.expires_at), version: Number(row.version) };
  }

  async create(key: string, data: SessionData, expiresAt: number, _now?: number): Promise<number | null> {
    const { rowCount } = await this.#query('create', this.#sql.create, [digestKey(key), encodeData(data), Math.floor(expiresAt)]);
    return rowCount === 1 ? 1 : null;
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const { rows } = await this.#query<{ updated: string | null; live: boolean }>('update', this.#sql.update, [
      digestKey(key),
      encodeData(data),
      Math.floor(expiresAt),
      expectedVersion,
      now,
    ]);
    const row = rows[0]!;
    if (row.updated !== null) return { status: 'ok', version: Number(row.updated) };
    return row.live ? { status: 'conflict' } : { status: 'missing' };
  }

  async delete(key: string): Promise<void> {
    await this.#query('delete', this.#sql.delete, [digestKey(key)]);
  }

  async exists(key: string): Promise<boolean> {
    const { rows } = await this.#query('exists', this.#sql.exists, [digestKey(key)]);
    return rows.length > 0;
  }

  async clearExpired(now = Date.now()): Promise<number> {
    return (await this.#query('clearExpired', this.#sql.clearExpired, [now])).rowCount;
  }

  async stats(now = Date.now()): Promise<StoreStats> {
    const { rows } = await this.#query<{ count: string; expired: string; bytes: string }>('stats', this.#sql.stats, [now]);
    const row = rows[0]!;
    return { count: Number(row.count), expired: Number(row.expired), bytes: Number(row.bytes) };
  }

  /** Ends the pool when the store made it (createStore); a pool the user passed is left open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) {
      await this.#pool.end().catch((err: Error) => this.#logger.error('closing the PostgreSQL pool failed', { error: err.message }));
    }
    // Keep swallowing errors of a pool that is ending (or of the user's pool until they listen).
    if (!this.#owned) this.#pool.removeListener('error', this.#onPoolError);
  }
}

function statements(t: string) {
  return {
    load: `SELECT data, expires_at, version FROM ${t} WHERE key_hash = $1 AND expires_at > $2`,
    create: `INSERT INTO ${t} (key_hash, data, expires_at, version) VALUES ($1, $2, $3, 1) ON CONFLICT (key_hash) DO NOTHING`,
    // One round trip: the outer SELECT sees the snapshot from before the UPDATE, so when no row
    // was updated, `live` says whether a live record existed (conflict) or not (missing).
    update: `WITH u AS (
        UPDATE ${t} SET data = $2, expires_at = $3, version = version + 1
        WHERE key_hash = $1 AND version = $4 AND expires_at > $5
        RETURNING version
      )
      SELECT (SELECT version FROM u) AS updated,
             EXISTS (SELECT 1 FROM ${t} WHERE key_hash = $1 AND expires_at > $5) AS live`,
    delete: `DELETE FROM ${t} WHERE key_hash = $1`,
    exists: `SELECT 1 FROM ${t} WHERE key_hash = $1`,
    clearExpired: `DELETE FROM ${t} WHERE expires_at <= $1`,
    stats: `SELECT count(*) AS count, count(*) FILTER (WHERE expires_at <= $1) AS expired,
                   coalesce(sum(octet_length(data)), 0) AS bytes FROM ${t}`,
  };
}

/** Marks a pool the store made itself (createStore), which `close()` then ends. */
const OWNED = Symbol('sessionkit.ownedPool');

type PgModule = { Pool: new (config: PoolConfig) => Pool };

/** `createStore('postgres://user@host:5432/db')`: a PostgresStore over a pool it owns, with bounded connects and queries. */
export function postgresStoreFromUrl(url: string, options: CreateStoreOptions): AnyStore {
  const pg = requireOptional<PgModule & { default?: PgModule }>('pg');
  const Pool = pg.Pool ?? pg.default!.Pool;
  const pool = new Pool({
    connectionString: url,
    connectionTimeoutMillis: 3000,
    query_timeout: 5000,
    statement_timeout: 5000,
    idleTimeoutMillis: 30_000,
  });
  return new PostgresStore({ pool, logger: options.logger, [OWNED]: true } as PostgresStoreOptions);
}
