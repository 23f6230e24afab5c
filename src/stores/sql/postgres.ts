// Nothing comes from 'pg' here, not even types: sessionkit loads and compiles without pg (an optional peer).
import type { Logger } from '../../core/log.js';
import { requireOptional } from '../../core/require.js';
import type { Dialect, FailureKind, SqlDriver } from './engine.js';

export const POSTGRES: Dialect = {
  name: 'postgres',
  placeholders(sql) {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  },
  writableCte: true,
  octets: (column) => `octet_length(${column})`,
  types: { text: 'text', integer: 'bigint' },
  tableSuffix: '',
  clearBatch: 5000,
  clearBatchMs: 100,
  pauseBetweenBatches: false,
  keepUnchangedUser: false,
};

/** The code a query that outlived the store's `timeout` fails with (mapped to StoreUnavailableError by the engine). */
const TIMED_OUT = 'SESSIONKIT_TIMEOUT';

/**
 * The part of a `pg` Pool that sessionkit uses, written out so that its public types compile
 * without pg's: a `pg.Pool` (pg 8) is one.
 */
export interface PgPool {
  query(config: { text: string; values?: unknown[]; query_timeout?: number }): Promise<{ rows: any[]; rowCount: number | null }>;
  connect(...args: any[]): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
  end(): Promise<void>;
}

export function isPool(db: unknown): db is PgPool {
  const d = db as Record<string, unknown> | null;
  return typeof d?.query === 'function' && typeof d.connect === 'function' && typeof d.on === 'function';
}

/** Pools made by poolFromUrl: a store over one of them ends it on close(). */
const ownedPools = new WeakSet<PgPool>();

/** A pg Pool from a connection URL, with bounded connects and queries, for stores made from a URL (`fromUrl`), which own it. */
export function poolFromUrl(connectionString: string): PgPool {
  type PgModule = { Pool: new (config: Record<string, unknown>) => PgPool };
  const pg = requireOptional<PgModule & { default?: PgModule }>('pg');
  const PgPool = pg.Pool ?? pg.default!.Pool;
  const pool = new PgPool({
    connectionString,
    connectionTimeoutMillis: 3000,
    query_timeout: 5000,
    statement_timeout: 5000,
    idleTimeoutMillis: 30_000,
  });
  ownedPools.add(pool);
  return pool;
}

export interface PgDriverOptions {
  /** How long any one query may take, in milliseconds. */
  timeout: number;
  logger: Logger;
  /** Names the store in the log line about a dropped idle connection. */
  label: string;
}

/**
 * A SqlDriver over a pg Pool. Every query is bounded by `timeout`: `query_timeout` makes pg drop
 * the connection of a query that hangs, and a race also bounds waiting for a connection from a
 * pool without connectionTimeoutMillis. The pool's `error` event is listened to while the store is
 * open, so an idle connection the server drops is logged, not an unhandled error. A pool made by
 * poolFromUrl is ended on close(); any other is left to its owner.
 */
export function pgDriver(pool: PgPool, options: PgDriverOptions): SqlDriver {
  const { timeout, logger } = options;
  const onPoolError = (err: Error) => {
    // The pool discards the connection and connects again on the next query.
    logger.error('PostgreSQL connection lost while idle; the pool will reconnect', { store: options.label, error: err.message });
  };
  pool.on('error', onPoolError);

  function query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pending: Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
    try {
      pending = pool.query({ text, values: values as unknown[] | undefined, query_timeout: timeout });
    } catch (err) {
      return Promise.reject(err);
    }
    pending.catch(() => {}); // a late failure after the deadline must not be unhandled
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeout} ms`), { code: TIMED_OUT })), timeout);
    });
    return Promise.race([pending, deadline]).then(
      (res) => {
        clearTimeout(timer);
        return { rows: res.rows, rowCount: res.rowCount ?? 0 };
      },
      (err) => {
        clearTimeout(timer);
        throw err;
      },
    );
  }

  const code = (err: unknown) => (err as { code?: string } | null)?.code;
  return {
    dialect: POSTGRES,
    all: async (sql, params) => (await query(sql, params)).rows,
    run: async (sql, params) => (await query(sql, params)).rowCount,
    async exec(sql) {
      try {
        await query(sql);
      } catch (err) {
        // Two processes creating the table at once can collide in the catalog (23505 on pg_type,
        // 42P07 duplicate table): the other one won, and IF NOT EXISTS now succeeds.
        if (code(err) !== '23505' && code(err) !== '42P07') throw err;
        await query(sql);
      }
    },
    classify(err): FailureKind {
      const c = code(err);
      if (c === TIMED_OUT) return 'timeout';
      if (c === '42P01') return 'missing-table';
      return 'other';
    },
    reachHint: '; check that PostgreSQL is up and reachable',
    describe: () => `did not answer within ${timeout} ms; check that the server is up and reachable, or raise the timeout option`,
    async close() {
      if (!ownedPools.has(pool)) {
        pool.removeListener('error', onPoolError);
        return;
      }
      ownedPools.delete(pool);
      // The listener stays: a pool that is ending may still report its connections' errors.
      await pool
        .end()
        .catch((err: Error) => logger.error('closing the PostgreSQL pool failed', { store: options.label, error: err.message }));
    },
  };
}
