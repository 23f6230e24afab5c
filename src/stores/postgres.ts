import { ConfigError } from '../core/errors.js';
import { consoleLogger, type Logger } from '../core/log.js';
import type { CreateStoreOptions } from '../core/store.js';
import { jsonCodec, parseTable, resolveMilliseconds, SESSIONKIT_TABLE, SqlStore, type SqlStoreConfig, schemaSql } from './sql/engine.js';
import { isPool, POSTGRES, type PgPool, pgDriver, poolFromUrl } from './sql/postgres.js';

export interface PostgresStoreOptions {
  /** A `pg` Pool. The store never ends a pool it was given: `close()` leaves it to its owner. */
  pool: PgPool;
  /** The table, optionally schema-qualified (`app.sessions`); created when missing unless `createTable` is false. @default 'sessionkit_sessions' */
  table?: string;
  /** Where corrupt rows and dropped idle connections are reported. @default console */
  logger?: Logger;
  /** How long any one store call may take, in milliseconds, before it fails with StoreUnavailableError. @default 5000 */
  timeout?: number;
  /** Create the table and its expiry index when missing, once, before the first query. Set false when migrations own the schema (see `PostgresStore.schemaSql`). @default true */
  createTable?: boolean;
}

function configure(options: PostgresStoreOptions): SqlStoreConfig {
  const pool = options?.pool as PgPool | undefined;
  if (!isPool(pool)) throw new ConfigError('pool', 'give a pg Pool: new PostgresStore({ pool: new pg.Pool({ connectionString }) })');
  const table = parseTable(options.table ?? SESSIONKIT_TABLE.table, 'app.sessions');
  const timeout = resolveMilliseconds('timeout', options.timeout, 5000, 1);
  const logger = options.logger ?? consoleLogger;
  return {
    timeout,
    driver: pgDriver(pool, { timeout, logger, label: 'PostgresStore' }),
    shape: SESSIONKIT_TABLE,
    table,
    codec: jsonCodec(logger, 'PostgresStore'),
    label: 'PostgreSQL',
    createTable: options.createTable !== false,
    missingTable: 'run PostgresStore.schemaSql() in a migration, or leave createTable on',
  };
}

/**
 * A durable store shared by every app server: one PostgreSQL table over a `pg` Pool the user
 * passes in. Keys are kept as SHA-256 digests; every update is a compare-and-set on `version`,
 * so parallel requests never lose each other's changes. Expiry is compared with the `now`
 * the caller gives (milliseconds), never the database clock.
 */
export class PostgresStore extends SqlStore {
  /**
   * The SQL that creates the table and its expiry index (idempotent), for a migration:
   * `PostgresStore.schemaSql('sessionkit_sessions')`.
   */
  static schemaSql(table = SESSIONKIT_TABLE.table): string {
    return schemaSql(POSTGRES, SESSIONKIT_TABLE, parseTable(table, 'app.sessions'));
  }

  /** A pool the store is given stays open on `close()`: ending it is left to its owner. */
  constructor(options: PostgresStoreOptions) {
    super(configure(options));
  }

  /** `postgres://user@host:5432/db` (or `postgresql://`): a store over a pool it makes, with bounded connects and queries, which `close()` ends. */
  static fromUrl(url: string, options: Omit<PostgresStoreOptions, 'pool'> & CreateStoreOptions = {}): PostgresStore {
    return new PostgresStore({ ...options, pool: poolFromUrl(url) });
  }
}
