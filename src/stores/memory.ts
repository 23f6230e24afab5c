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
 * In-process store, for tests and single-process development. Data is kept as JSON text, so
 * nothing passes by object identity: what comes back is what a real store would give.
 */
export class MemoryStore implements SessionStore {
  readonly #rows = new Map<string, Row>();
  readonly #logger: Logger;

  constructor(options: MemoryStoreOptions = {}) {
    this.#logger = options.logger ?? consoleLogger;
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    const row = this.#rows.get(digestKey(key));
    if (!row || row.expiresAt <= now) return null;
    return { data: decodeData(row.json, this.#logger, 'MemoryStore'), expiresAt: row.expiresAt, version: row.version };
  }

  async create(key: string, data: SessionData, expiresAt: number, _now?: number): Promise<number | null> {
    const id = digestKey(key);
    if (this.#rows.has(id)) return null;
    this.#rows.set(id, { json: encodeData(data), expiresAt, version: 1 });
    return 1;
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const id = digestKey(key);
    const row = this.#rows.get(id);
    if (!row || row.expiresAt <= now) return { status: 'missing' };
    if (row.version !== expectedVersion) return { status: 'conflict' };
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
