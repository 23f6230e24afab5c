import { consoleLogger, type Logger } from '../core/log.js';
import { decodeData, encodeData, type SessionData } from '../core/codec.js';
import { digestKey } from '../core/keys.js';
import type { SessionStore, StoredSession, StoreStats, UpdateResult } from '../core/store.js';

interface Row {
  json: string;
  expiresAt: number;
  version: number;
}

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

/**
 * In-process store, for tests and single-process development. Data is kept as JSON text, so
 * nothing passes by object identity: what comes back is what a real store would give. Expired
 * sessions are evicted a few rows per write once it holds 1000 rows (see SWEEP_PER_WRITE): memory
 * is bounded by the live sessions without a timer or a clearExpired call.
 */
export class MemoryStore implements SessionStore {
  readonly #rows = new Map<string, Row>();
  readonly #logger: Logger;
  /** Where the eviction sweep goes on (Map iterators survive inserts and deletes). */
  #cursor: Iterator<[string, Row]> | null = null;

  constructor(options: MemoryStoreOptions = {}) {
    this.#logger = options.logger ?? consoleLogger;
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    const row = this.#rows.get(digestKey(key));
    if (!row || row.expiresAt <= now) return null;
    return { data: decodeData(row.json, this.#logger, 'MemoryStore'), expiresAt: row.expiresAt, version: row.version };
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
      const [id, row] = next.value;
      if (row.expiresAt <= now) this.#rows.delete(id);
    }
  }

  async create(key: string, data: SessionData, expiresAt: number, now = Date.now()): Promise<number | null> {
    const id = digestKey(key);
    if (this.#rows.has(id)) return null;
    this.#sweep(now);
    this.#rows.set(id, { json: encodeData(data), expiresAt, version: 1 });
    return 1;
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const id = digestKey(key);
    const row = this.#rows.get(id);
    if (!row || row.expiresAt <= now) return { status: 'missing' };
    if (row.version !== expectedVersion) return { status: 'conflict' };
    this.#sweep(now);
    const version = row.version + 1;
    this.#rows.set(id, { json: encodeData(data), expiresAt, version });
    return { status: 'ok', version };
  }

  async delete(key: string): Promise<void> {
    this.#rows.delete(digestKey(key));
  }

  async exists(key: string): Promise<boolean> {
    return this.#rows.has(digestKey(key));
  }

  async clearExpired(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const [id, row] of this.#rows) {
      if (row.expiresAt <= now) {
        this.#rows.delete(id);
        removed++;
      }
    }
    return removed;
  }

  async stats(now = Date.now()): Promise<StoreStats> {
    let expired = 0;
    let bytes = 0;
    for (const row of this.#rows.values()) {
      if (row.expiresAt <= now) expired++;
      bytes += Buffer.byteLength(row.json);
    }
    return { count: this.#rows.size, expired, bytes };
  }

  /** Writes raw text under a key, bypassing encoding: lets tests plant corrupt data. */
  putRaw(key: string, text: string, expiresAt: number): void {
    const id = digestKey(key);
    const version = (this.#rows.get(id)?.version ?? 0) + 1;
    this.#rows.set(id, { json: text, expiresAt, version });
  }

  async close(): Promise<void> {}
}
