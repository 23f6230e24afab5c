import type { Pool, QueryConfig, QueryResultRow } from 'pg';
import { StoreUnavailableError } from '../core/errors.js';

/**
 * Runs one query on a `pg` Pool, bounded by `timeout` milliseconds, with every failure mapped to
 * StoreUnavailableError by `unavailable`. `query_timeout` makes pg drop the connection of a query
 * that hangs; the race also bounds waiting for a connection from a pool without
 * connectionTimeoutMillis. Shared by PostgresStore and DjangoStore's PostgreSQL side.
 */
export function boundedQuery<R extends QueryResultRow>(
  pool: Pool,
  config: QueryConfig,
  timeout: number,
  timedOut: () => StoreUnavailableError,
  unavailable: (err: unknown) => StoreUnavailableError,
): Promise<{ rows: R[]; rowCount: number }> {
  let timer: NodeJS.Timeout | undefined;
  let query: Promise<{ rows: R[]; rowCount: number | null }>;
  try {
    query = pool.query<R>({ ...config, query_timeout: timeout } as QueryConfig);
  } catch (err) {
    return Promise.reject(unavailable(err));
  }
  query.catch(() => {}); // a late failure after the deadline must not be unhandled
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), timeout);
  });
  return Promise.race([query, deadline]).then(
    (res) => {
      clearTimeout(timer);
      return { rows: res.rows, rowCount: res.rowCount ?? 0 };
    },
    (err) => {
      clearTimeout(timer);
      throw err instanceof StoreUnavailableError ? err : unavailable(err);
    },
  );
}
