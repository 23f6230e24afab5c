import { StoreUnavailableError } from '../../core/errors.js';
import {
  SYNC,
  type SessionStore,
  type StoreCapabilities,
  type StoreCreate,
  type StoredSession,
  type StoreStats,
  type StoreUpdate,
  type SyncFacet,
  type UpdateResult,
  type UserIndexedStore,
} from '../../core/store.js';
import { type IndexedSession, userIdOf } from '../../core/accounts.js';
import {
  type SqlDriver,
  type SyncSqlDriver,
  type SyncStatement,
  type ExpiryFormat,
  type TableShape,
  type DataCodec,
  schemaSql,
  type SqlStoreConfig,
  type Statement,
  statements,
} from './schema.js';
export {
  SESSIONKIT_TABLE,
  MILLISECONDS,
  jsonCodec,
  IDENTIFIER,
  parseTable,
  resolveMilliseconds,
  indexSql,
  schemaSql,
  upgradeSql,
  statements,
} from './schema.js';
export type {
  DialectName,
  Dialect,
  FailureKind,
  SqlDriver,
  SyncSqlDriver,
  SyncStatement,
  ColumnType,
  Column,
  ExpiryFormat,
  TableShape,
  DataCodec,
  TableName,
  SqlStoreConfig,
  Statement,
} from './schema.js';

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
 * Over a driver that answers synchronously (SQLite's) it also has a synchronous facet (SyncFacet):
 * the same statements answered at once; over any other it has none.
 */
export class SqlStore implements SessionStore, UserIndexedStore {
  /** Why listing and revoking by user is refused (a table without the user index), or undefined. A field, not a getter: stores may be wrapped in a Proxy. */
  readonly noUserIndex: string | undefined;
  /** See StoreCapabilities: from the table shape (a user column or not) and the driver (SQLite answers synchronously). */
  readonly capabilities: StoreCapabilities;
  /** See SessionStore.timeout. */
  readonly timeout: number | undefined;
  /** @internal `load` and `update` answered at once, over a synchronous driver only (see SyncFacet). A field: stores may be wrapped in a Proxy. */
  readonly [SYNC]: SyncFacet | undefined;
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
    this.capabilities = {
      userIndex: this.noUserIndex ?? true,
      synchronous: config.driver.sync !== undefined,
      keysInClear: config.keysInClear === true,
      selfExpiring: false,
    };
    this.#codec = config.codec;
    this.#label = config.label;
    this.#missingTable = config.missingTable;
    this.#expiry = config.shape.expiry(config.driver.dialect.name);
    this.#sql = statements(config);
    this.#schema = config.createTable ? schemaSql(config.driver.dialect, config.shape, config.table) : null;
    // A driver that only answers asynchronously (pg): no facet, so the engine awaits load and update.
    this[SYNC] =
      this.#sync === undefined
        ? undefined
        : { load: (key, now) => this.#loadNow(key, now), update: (write) => this.#updateNow(write), answersFor: SqlStore.prototype };
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
  #loadNow(key: string, now: number): StoredSession | null {
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

  async create({ key, data, expiresAt, now = Date.now() }: StoreCreate): Promise<number | null> {
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
   * rows changed): `update` runs them awaiting each, the synchronous facet at once, so the two cannot differ.
   */
  *#updatePlan({ key, data, expiresAt, expectedVersion, now = Date.now() }: StoreUpdate): Generator<Step, UpdateResult, unknown> {
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

  async update(write: StoreUpdate): Promise<UpdateResult> {
    const plan = this.#updatePlan(write);
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
  #updateNow(write: StoreUpdate): UpdateResult {
    const plan = this.#updatePlan(write);
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
