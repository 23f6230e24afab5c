import { ConfigError } from '../../core/errors.js';
import { bundlerRefusal, loadPackage, packageManifest, requireOptional } from '../../core/require.js';
import type { Dialect, FailureKind, SqlDriver, SyncStatement } from './engine.js';

/**
 * The part of a SQLite connection the stores use. better-sqlite3's `Database`, node:sqlite's
 * `DatabaseSync` and bun:sqlite's `Database` all have it, with the same positional parameters.
 */
export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  close(): unknown;
}

/** A prepared statement, as `SqliteConnection.prepare` gives it. */
export interface SqliteStatement {
  all(...params: unknown[]): unknown[];
  /** The first row (undefined, or bun's null, when none); `all` serves where a connection lacks it. */
  get?(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number | bigint };
}

/** The SQLite drivers sessionkit can use, best first: better-sqlite3 (Node.js), node:sqlite (Node.js 22.5+, Deno), bun:sqlite (Bun). */
export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite' | 'bun:sqlite';

export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['better-sqlite3', 'node:sqlite', 'bun:sqlite'];

/** Opens a database file (created when missing) with one driver. */
export type SqliteOpener = (path: string) => SqliteConnection;

type Loader = () => SqliteOpener;

const runtime = globalThis as { Bun?: unknown; Deno?: unknown };

const nodeMajor = (): number =>
  Number(/^(\d+)\./.exec((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ?? '')?.[1] ?? 0);

/** What to install on this Node.js: better-sqlite3 13 and later need Node.js 22; on Node.js 20, 12 is the last that works. */
const installLine = (): string => (nodeMajor() > 0 && nodeMajor() < 22 ? 'npm install better-sqlite3@12' : 'npm install better-sqlite3');

/** A driver that cannot work here, found before it is loaded (loading it would crash the process). */
class Unsupported {
  constructor(readonly reason: string) {}
}

/**
 * better-sqlite3 13 needs Node.js 22 and crashes the process (no exception) when its addon is
 * loaded by an older one; its package.json says so in `engines`, which is read first.
 */
function refuseUnsupportedNode(): void {
  const manifest = packageManifest('better-sqlite3');
  const needs = /^\s*>=\s*v?(\d+)/.exec(manifest?.engines?.node ?? '')?.[1];
  if (needs !== undefined && nodeMajor() > 0 && nodeMajor() < Number(needs)) {
    throw new Unsupported(
      `better-sqlite3 ${manifest?.version ?? ''} needs Node.js ${needs} or later and this is Node.js ${nodeMajor()}: ${installLine()}`,
    );
  }
}

/** Defined by webpack inside its bundles only. */
declare const __webpack_require__: unknown;

/** True inside a server bundle (webpack, Turbopack), whose module loader is not Node.js's. */
function inBundle(): boolean {
  if (typeof __webpack_require__ === 'function') return true;
  return typeof (globalThis as { __turbopack_external_require__?: unknown }).__turbopack_external_require__ === 'function';
}

/**
 * Why `name` did not load, from the error it threw: not installed, never built (pnpm and npm 11
 * skip install scripts until approved), built for another Node.js, or not loadable in a bundle.
 */
export function whyNotLoaded(name: SqliteDriverName, err: unknown): string {
  if (err instanceof Unsupported) return err.reason;
  const message = String((err as Error)?.message ?? err);
  if (name === 'better-sqlite3') {
    if (/NODE_MODULE_VERSION/.test(message))
      return `better-sqlite3 was built for another Node.js version (${message.split('\n')[0]}): npm rebuild better-sqlite3`;
    if (/bindings file|better_sqlite3\.node|ERR_DLOPEN_FAILED/.test(message) || (err as { code?: unknown })?.code === 'ERR_DLOPEN_FAILED')
      return 'better-sqlite3 is installed but its native addon was not built (pnpm and npm 11 skip install scripts until approved): run `pnpm approve-builds` with pnpm, `npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3` with npm, or `npm rebuild better-sqlite3`';
    if (
      bundlerRefusal(err) ||
      (/Cannot find module/.test(message) && /better-sqlite3/.test(message) && !/better-sqlite3[\\/]/.test(message))
    ) {
      return inBundle() || bundlerRefusal(err)
        ? "better-sqlite3 cannot be loaded inside this server bundle: keep sessionkit out of it (Next.js: serverExternalPackages: ['sessionkit'] in next.config)"
        : `better-sqlite3 is not installed: ${installLine()}`;
    }
    return `better-sqlite3 did not load (${message.split('\n')[0]}): ${installLine()}, or npm rebuild better-sqlite3`;
  }
  if (name === 'node:sqlite') return 'node:sqlite needs Node.js 22.5 or later (or Deno)';
  return 'bun:sqlite needs Bun';
}

/** How each driver is loaded: at construction of a store, never when sessionkit is imported. */
export const SQLITE_LOADERS: Readonly<Record<SqliteDriverName, Loader>> = {
  'better-sqlite3': () => {
    refuseUnsupportedNode();
    const Database = loadPackage<new (path: string) => SqliteConnection>('better-sqlite3');
    // The native addon loads with the first database: one never built, built for another
    // Node.js ABI, or a runtime that cannot load it, fails here and the next driver is tried.
    new Database(':memory:').close();
    return (path) => new Database(path);
  },
  'node:sqlite': () => {
    const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    const mod = (getBuiltin?.('node:sqlite') ?? requireOptional('node:sqlite')) as {
      DatabaseSync?: new (path: string) => SqliteConnection;
    };
    const DatabaseSync = mod?.DatabaseSync;
    if (typeof DatabaseSync !== 'function') throw new Error('node:sqlite has no DatabaseSync');
    return (path) => new DatabaseSync(path);
  },
  'bun:sqlite': () => {
    const { Database } = requireOptional<{ Database: new (path: string) => SqliteConnection }>('bun:sqlite');
    return (path) => new Database(path);
  },
};

/** Connections opened by openSqlite: a store over one of them closes it on close(). */
const ownedConnections = new WeakSet<SqliteConnection>();

/** Opens `path` with `driver` for a store, which then owns the connection. */
export function openSqlite(driver: { open: SqliteOpener }, path: string): SqliteConnection {
  const db = driver.open(path);
  ownedConnections.add(db);
  return db;
}

/** Drivers loaded once already, by name. */
const openers = new Map<SqliteDriverName, SqliteOpener>();

/** The order drivers are tried in on this runtime. */
function preference(): SqliteDriverName[] {
  if (runtime.Bun) return ['bun:sqlite', 'node:sqlite'];
  if (runtime.Deno) return ['node:sqlite', 'better-sqlite3'];
  return ['better-sqlite3', 'node:sqlite'];
}

/**
 * Loads `choice`, or the best driver this runtime has. Throws ConfigError naming what to install
 * when there is none. `loaders` is a seam for tests.
 */
export function loadSqliteDriver(
  choice?: SqliteDriverName,
  loaders: Readonly<Record<SqliteDriverName, Loader>> = SQLITE_LOADERS,
): { name: SqliteDriverName; open: SqliteOpener } {
  if (choice !== undefined && !SQLITE_DRIVERS.includes(choice))
    throw new ConfigError(
      'driver',
      `${JSON.stringify(choice)} is not a SQLite driver sessionkit knows; use one of ${SQLITE_DRIVERS.join(', ')}`,
    );
  const reasons: string[] = [];
  for (const name of choice ? [choice] : preference()) {
    const loaded = loaders === SQLITE_LOADERS ? openers.get(name) : undefined;
    if (loaded) return { name, open: loaded };
    try {
      const open = loaders[name]();
      if (loaders === SQLITE_LOADERS) openers.set(name, open);
      return { name, open };
    } catch (err) {
      // not installed, not built, or not on this runtime: say why, and try the next one
      reasons.push(whyNotLoaded(name, err));
    }
  }
  if (choice) throw new ConfigError('driver', reasons[0]!);
  throw new ConfigError(
    'driver',
    `SqliteStore needs a SQLite driver and none loaded: ${reasons.join('; ')}. Otherwise run on Node.js 22.5+ (node:sqlite), Deno (node:sqlite) or Bun (bun:sqlite), or pass another store (RedisStore, PostgresStore, CookieStore)`,
  );
}

/** How long SQLite itself waits for a lock before the driver's own, non-blocking retries take over, in milliseconds. */
export const LOCK_WAIT_MS = 10;

export const SQLITE: Dialect = {
  name: 'sqlite',
  placeholders: (sql) => sql,
  writableCte: false,
  octets: (column) => `length(CAST(${column} AS BLOB))`,
  types: { text: 'TEXT', integer: 'INTEGER' },
  tableSuffix: ' WITHOUT ROWID',
  clearBatch: 250,
  clearBatchMs: 5,
  pauseBetweenBatches: true,
  keepUnchangedUser: true,
};

/** SQLITE_BUSY in any driver's spelling: better-sqlite3 and bun `code: 'SQLITE_BUSY…'`, node:sqlite `errcode: 5` (extended codes keep 5 in the low byte). */
export function isBusy(err: unknown): boolean {
  const e = err as { code?: unknown; errcode?: unknown; errno?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('SQLITE_BUSY')) return true;
  const n = typeof e?.errcode === 'number' ? e.errcode : e?.code === 'ERR_SQLITE_ERROR' && typeof e.errno === 'number' ? e.errno : -1;
  return n >= 0 && (n & 0xff) === 5;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SQLite's own wal_autocheckpoint, in pages. */
const DEFAULT_AUTOCHECKPOINT = 1000;

/**
 * Pages of write-ahead log clearExpired lets gather before it checkpoints (1 MiB of 4 KiB pages):
 * copying them back and the two fsyncs take a few milliseconds on a disk, where the automatic
 * checkpoint's 1000 pages took tens to hundreds; fewer would pay the fsyncs' latency more often.
 */
const CHECKPOINT_PAGES = 256;

/** Runs best-effort maintenance: a failure (a closed connection, a busy checkpoint) is left to the next statement to report. */
function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // nothing to do: see above
  }
}

export interface SqliteDriverOptions {
  /** How long a statement may wait for another connection's lock in all, in milliseconds. */
  lockTimeout: number;
}

/**
 * A SqlDriver over a synchronous SQLite connection. A statement that finds the database locked by
 * another process is retried on a timer with backoff until `lockTimeout`, so a lock wait never
 * blocks the event loop for more than LOCK_WAIT_MS at a time (set as the connection's busy_timeout
 * when the store opened it). A connection opened by openSqlite is closed on close(); any other
 * is left to its owner.
 */
export function sqliteDriver(db: SqliteConnection, options: SqliteDriverOptions): SqlDriver {
  const cache = new Map<string, SqliteStatement>();
  const statement = (sql: string) => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  async function retrying<T>(fn: () => T): Promise<T> {
    let deadline = 0;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err)) throw err;
        deadline ||= Date.now() + options.lockTimeout;
        if (Date.now() >= deadline) throw err;
      }
      await sleep(Math.min(wait * (0.5 + Math.random()), Math.max(deadline - Date.now(), 0)));
    }
  }
  // clearExpired checkpoints the log itself, between its batches, about CHECKPOINT_PAGES at a
  // time (see `clearing`): SQLite's automatic checkpoint would copy a whole log's worth of pages
  // (1000 by default) and fsync twice inside one batch, holding the event loop for tens to
  // hundreds of milliseconds on a disk.
  let clearing = 0;
  let autocheckpoint = DEFAULT_AUTOCHECKPOINT;
  let sinceCheckpoint = 0;
  let checkpointEvery = 1;
  return {
    dialect: SQLITE,
    all: (sql, params) => retrying(() => statement(sql).all(...params) as Record<string, unknown>[]),
    run: (sql, params) => retrying(() => Number(statement(sql).run(...params).changes)),
    exec: (sql) => retrying(() => void db.exec(sql)),
    classify(err): FailureKind {
      if (isBusy(err)) return 'busy';
      if (/no such table/i.test((err as Error)?.message ?? '')) return 'missing-table';
      return 'other';
    },
    reachHint: '',
    describe: (kind) =>
      kind === 'busy'
        ? `another connection held the database's write lock for longer than ${options.lockTimeout} ms; raise the busyTimeout option, or find the long-running writer`
        : kind === 'busy-now'
          ? 'another connection held a lock that keeps readers out (one in locking_mode=EXCLUSIVE, or recovering the write-ahead log) for longer than SQLite waits by itself; find that connection'
          : `did not finish within ${options.lockTimeout} ms`,
    clearing: {
      begin() {
        if (clearing++ > 0) return;
        sinceCheckpoint = 0;
        checkpointEvery = 1;
        quietly(() => {
          const [row] = statement('PRAGMA wal_autocheckpoint').all() as Record<string, unknown>[];
          autocheckpoint = Number(row?.wal_autocheckpoint ?? DEFAULT_AUTOCHECKPOINT);
          db.exec('PRAGMA wal_autocheckpoint = 0');
        });
      },
      between() {
        if (++sinceCheckpoint < checkpointEvery) return;
        quietly(() => {
          const [row] = statement('PRAGMA wal_checkpoint(PASSIVE)').all() as Record<string, unknown>[];
          // The log's pages per batch so far: checkpoint again once about CHECKPOINT_PAGES more are in.
          const perBatch = Math.max(1, Number(row?.log ?? 0) / sinceCheckpoint);
          checkpointEvery = Math.max(1, Math.min(64, Math.floor(CHECKPOINT_PAGES / perBatch)));
        });
        sinceCheckpoint = 0;
      },
      end() {
        if (--clearing > 0) return;
        quietly(() => db.exec(`PRAGMA wal_autocheckpoint = ${autocheckpoint}`));
      },
    },
    sync: {
      prepare(sql): SyncStatement {
        const s = statement(sql);
        const get = s.get;
        return {
          get:
            typeof get === 'function'
              ? (params) => (get.apply(s, params as unknown[]) ?? undefined) as Record<string, unknown> | undefined
              : (params) => s.all(...params)[0] as Record<string, unknown> | undefined,
          run: (params) => Number(s.run(...params).changes),
        };
      },
      exec: (sql) => void db.exec(sql),
    },
    async close() {
      cache.clear();
      if (ownedConnections.delete(db)) db.close();
    },
  };
}

/** Whether `db` looks like a SQLite connection of one of the supported drivers. */
export function isSqliteConnection(db: unknown): db is SqliteConnection {
  const d = db as Record<string, unknown> | null;
  return typeof d?.prepare === 'function' && typeof d.exec === 'function' && typeof d.close === 'function';
}
