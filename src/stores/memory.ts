import { consoleLogger, type Logger } from '../core/log.js';
import { decodeData, encodeData } from '../core/codec.js';
import { utf8Length } from '../core/crypto.js';
import { digestKey } from '../core/keys.js';
import { type IndexedSession, userIdOf } from '../core/accounts.js';
import {
  SYNC,
  type SyncFacet,
  type SessionStore,
  type StoreCapabilities,
  type StoreCreate,
  type StoreUpdate,
  type StoredSession,
  type StoreStats,
  type UpdateResult,
  type UserIndexedStore,
} from '../core/store.js';

interface Row {
  json: string;
  expiresAt: number;
  version: number;
  lastSeenAt: number;
  user: string | null;
}

/** The options of `new MemoryStore()`. */
export interface MemoryStoreOptions {
  /** Where corrupt data is reported. @default console */
  logger?: Logger;
}

/**
 * Rows each write looks at for expiry, from a cursor that walks the rows in order. Twice the rate
 * at which creates add rows: a pass over every row ends within (rows / 2) writes, so a row expired
 * when a pass starts is gone when it ends, and the store never holds more than the live sessions
 * plus those created or expired during the last pass, whether or not anyone calls clearExpired.
 */
const SWEEP_PER_WRITE = 2;
/** Below this many rows nothing is evicted: a small store (a test's) keeps its expired rows for clearExpired to count. */
const SWEEP_ABOVE = 1000;
/** Rows clearExpired looks at between two yields to the event loop (about 1 ms of work). */
const CLEAR_BATCH = 5_000;

/**
 * In-process store, for tests and single-process development. Data is kept as JSON text, so
 * nothing passes by object identity: what comes back is what a real store would give. Expired
 * sessions are evicted a few rows per write once it holds 1000 rows (see SWEEP_PER_WRITE): memory
 * is bounded by the live sessions without a timer or a clearExpired call.
 */
export class MemoryStore implements SessionStore, UserIndexedStore {
  readonly capabilities: StoreCapabilities = { userIndex: true, synchronous: true, keysInClear: false, selfExpiring: false };
  /**
   * Rows by session key. Unlike the durable stores, which keep only `digestKey(key)`, process
   * memory is not a copy anyone can walk away with, and not hashing the key saves a SHA-256
   * (about 0.5 µs) on every load and save.
   */
  readonly #rows = new Map<string, Row>();
  /**
   * user id -> keys of that user's sessions. An entry goes with its row (delete, revoke, a write
   * naming another user, clearExpired and the eviction sweep), so none outlives its session.
   */
  readonly #byUser = new Map<string, Set<string>>();
  /** Public id (`digestKey(key)`) -> key, for the sessions in #byUser (revoke finds them without hashing every key). */
  readonly #keyOfId = new Map<string, string>();
  readonly #logger: Logger;
  /** Where the eviction sweep goes on (Map iterators survive inserts and deletes). */
  #cursor: Iterator<[string, Row]> | null = null;

  constructor(options: MemoryStoreOptions = {}) {
    this.#logger = options.logger ?? consoleLogger;
  }

  /** @internal `load` and `update` answered at once: the engine then needs no promise for the request (see SyncFacet). */
  readonly [SYNC]: SyncFacet = {
    load: (key, now) => this.#load(key, now),
    update: (write) => this.#update(write),
    answersFor: MemoryStore.prototype,
  };

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    return this.#load(key, now);
  }

  #load(key: string, now: number): StoredSession | null {
    const row = this.#rows.get(key);
    if (!row || row.expiresAt <= now) return null;
    return {
      data: decodeData(row.json, this.#logger, 'MemoryStore'),
      expiresAt: row.expiresAt,
      version: row.version,
      lastSeenAt: row.lastSeenAt,
    };
  }

  #put(key: string, row: Row): void {
    const before = this.#rows.get(key)?.user ?? null;
    this.#rows.set(key, row);
    if (before === row.user) return;
    if (before !== null) this.#unindex(key, before);
    if (row.user !== null) {
      let set = this.#byUser.get(row.user);
      if (!set) this.#byUser.set(row.user, (set = new Set()));
      set.add(key);
      this.#keyOfId.set(digestKey(key), key);
    }
  }

  #remove(key: string): boolean {
    const row = this.#rows.get(key);
    if (!row) return false;
    this.#rows.delete(key);
    if (row.user !== null) this.#unindex(key, row.user);
    return true;
  }

  #unindex(key: string, user: string): void {
    const set = this.#byUser.get(user);
    set?.delete(key);
    if (set?.size === 0) this.#byUser.delete(user);
    this.#keyOfId.delete(digestKey(key));
  }

  /** Evicts the expired rows among the next few the cursor reaches. */
  #sweep(now: number): void {
    if (this.#rows.size < SWEEP_ABOVE) return;
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      this.#cursor ??= this.#rows.entries();
      const next = this.#cursor.next();
      if (next.done) {
        this.#cursor = null;
        continue;
      }
      const [key, row] = next.value;
      if (row.expiresAt <= now) this.#remove(key);
    }
  }

  async create({ key, data, expiresAt, now = Date.now(), json }: StoreCreate): Promise<number | null> {
    if (this.#rows.has(key)) return null;
    this.#sweep(now);
    this.#put(key, { json: json ?? encodeData(data), expiresAt, version: 1, lastSeenAt: now, user: userIdOf(data) });
    return 1;
  }

  async update(write: StoreUpdate): Promise<UpdateResult> {
    return this.#update(write);
  }

  #update({ key, data, expiresAt, expectedVersion, now = Date.now(), json }: StoreUpdate): UpdateResult {
    const row = this.#rows.get(key);
    if (!row || row.expiresAt <= now) return { status: 'missing' };
    if (row.version !== expectedVersion) return { status: 'conflict' };
    this.#sweep(now);
    const version = row.version + 1;
    this.#put(key, { json: json ?? encodeData(data), expiresAt, version, lastSeenAt: now, user: userIdOf(data) });
    return { status: 'ok', version };
  }

  async touch(key: string, expiresAt: number, now: number): Promise<boolean> {
    const row = this.#rows.get(key);
    if (!row || row.expiresAt <= now) return false;
    row.expiresAt = expiresAt;
    row.lastSeenAt = now;
    return true;
  }

  async listByUser(userId: string, now: number): Promise<IndexedSession[]> {
    const out: IndexedSession[] = [];
    for (const key of this.#byUser.get(userId) ?? []) {
      const row = this.#rows.get(key)!;
      if (row.expiresAt <= now) continue;
      out.push({
        id: digestKey(key),
        data: decodeData(row.json, this.#logger, 'MemoryStore'),
        expiresAt: row.expiresAt,
        lastSeenAt: row.lastSeenAt,
      });
    }
    return out;
  }

  async revoke(id: string): Promise<boolean> {
    const key = this.#keyOfId.get(id);
    if (key !== undefined) return this.#remove(key);
    // a session nobody signed in to: found by its digest, which only this rare call pays for
    for (const k of this.#rows.keys()) if (digestKey(k) === id) return this.#remove(k);
    return false;
  }

  async delete(key: string): Promise<void> {
    this.#remove(key);
  }

  async exists(key: string): Promise<boolean> {
    return this.#rows.has(key);
  }

  /** Removes expired rows in batches of CLEAR_BATCH, yielding to the event loop between them (a million rows never block it at once). */
  async clearExpired(now = Date.now()): Promise<number> {
    let removed = 0;
    let seen = 0;
    for (const [key, row] of this.#rows) {
      if (row.expiresAt <= now) {
        this.#remove(key);
        removed++;
      }
      if (++seen % CLEAR_BATCH === 0) await new Promise(setImmediate);
    }
    return removed;
  }

  async stats(now = Date.now()): Promise<StoreStats> {
    let expired = 0;
    let bytes = 0;
    for (const row of this.#rows.values()) {
      if (row.expiresAt <= now) expired++;
      bytes += utf8Length(row.json);
    }
    return { count: this.#rows.size, expired, bytes };
  }

  /** Writes raw text under a key, bypassing encoding: lets tests plant corrupt data. */
  putRaw(key: string, text: string, expiresAt: number): void {
    const version = (this.#rows.get(key)?.version ?? 0) + 1;
    this.#put(key, { json: text, expiresAt, version, lastSeenAt: Date.now(), user: null });
  }

  async close(): Promise<void> {}
}
