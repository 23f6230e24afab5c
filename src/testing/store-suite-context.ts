// What the sections of the store conformance suite share: the options a store's test file gives,
// and describeStore's closure as one object.
import type { Logger } from '../core/log.js';
import type { Sessions } from '../core/sessions.js';
import type { Session } from '../core/session.js';
import type { AnyStore, SessionStore } from '../core/store.js';

/** What a store's test file gives the conformance suite. */
export interface StoreUnderTest {
  store: AnyStore;
  /** Overwrites the stored record of `key` with bytes that are not session data (server-side stores). */
  corrupt?(key: string): Promise<void>;
  /** Everything the store holds at rest, as text, to check that no raw key is kept (server-side stores). */
  dumpAtRest?(): Promise<string>;
  /** A second store over the same data (another process's view), for conflict tests. Defaults to `store`. */
  peer?: AnyStore;
  /** Stops servers the factory started. */
  close?(): Promise<void>;
}

export interface DescribeStoreOptions {
  /** Builds the store once for the suite; every case uses fresh keys. */
  setup(logger: Logger): Promise<StoreUnderTest> | StoreUnderTest;
  /** Whether this store keeps session keys as Django does (the Django store): no digest at rest. */
  keysInClear?: boolean;
  /** The store forgets expired records by itself (a Redis TTL): clearExpired has nothing left to count. */
  selfExpiring?: boolean;
  /**
   * The store cannot find sessions by user (Django's table has no user column): the suite checks
   * that listing, revoking, idleTimeout and maxSessionsPerUser are refused with ConfigError instead.
   */
  noUserIndex?: boolean;
  /**
   * The store answers synchronously underneath (in process memory, SQLite): the suite checks that
   * it has its synchronous facet, that the engine answers a request through it without a
   * promise, and (for every store that has one) that it answers exactly as `load` and `update`.
   */
  synchronous?: boolean;
  /**
   * The store keeps the whole session in the cookie (CookieStore): the cases about stored records
   * (conflicts, tombstones, rows at rest, the guarantees matrix) are left out, with that reason.
   */
  clientSide?: boolean;
}

type Data = Record<string, any>;

/** What the sections of the suite (store-suite-*.ts) share of describeStore's closure. */
export interface SuiteContext {
  readonly logger: ReturnType<typeof recordingLogger>;
  readonly options: DescribeStoreOptions;
  readonly t: StoreUnderTest;
  readonly sessions: Sessions<Data>;
  clock: number;
  now(): number;
  make(extra?: Record<string, unknown>, store?: AnyStore): Sessions<Data>;
  cookieOf(setCookie: string | null): string;
  saved(fill: (s: Session<Data>) => void | Promise<void>, via?: Sessions<Data>): Promise<string>;
  keyOf(cookie: string): string;
  serverSide(): boolean;
  server(): SessionStore;
}

/** A logger that remembers what it was told. */
export function recordingLogger(): Logger & { records: { level: string; message: string; details?: Record<string, unknown> }[] } {
  const records: { level: string; message: string; details?: Record<string, unknown> }[] = [];
  return {
    records,
    warn: (message, details) => void records.push({ level: 'warn', message, details }),
    error: (message, details) => void records.push({ level: 'error', message, details }),
  };
}
