import { consoleLogger, type Logger } from '../core/log.js';
import type { SessionData } from '../core/codec.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import type { IndexedSession } from '../core/accounts.js';
import type { SessionStore, StoredSession, StoreStats, UpdateResult, UserIndexedStore } from '../core/store.js';

export interface CachedStoreOptions {
  /**
   * The fast store read first (a RedisStore, or a MemoryStore in one process). Every process
   * that shares `store` must share this cache too, as Django requires of cached_db.
   */
  cache: SessionStore;
  /** The durable store that holds the truth (SqliteStore, PostgresStore): every write goes here first. */
  store: SessionStore;
  /** Where cache failures are reported. @default console */
  logger?: Logger;
}

/**
 * What the cache holds for a session: the durable record's data and its version, so a hit can be
 * written back with compare-and-set against the durable store. The cache's own version is only
 * used to keep cache writes monotonic.
 */
interface Entry {
  v: number;
  d: SessionData;
}

function entryOf(data: SessionData): Entry | null {
  const { v, d } = data as Partial<Entry>;
  if (Number.isSafeInteger(v) && d !== null && typeof d === 'object' && !Array.isArray(d) && Object.keys(data).length === 2)
    return { v: v!, d };
  return null;
}

/** Keys whose cache entry may be stale because the cache refused a write (bounded). */
const MAX_SUSPECTS = 10_000;
const MAX_CACHE_ATTEMPTS = 5;

/**
 * Django's cached_db: a cache in front of a durable store, composed from two SessionStores.
 * Reads try the cache first (a cache failure is a logged miss); a miss reads the durable store
 * and refills the cache. Writes go to the durable store first, whose answer is the truth
 * (conflicts, missing sessions), then to the cache. A cache that fails on write is logged and
 * never loses a session: the durable store has it. The cache only ever moves forward in
 * version, an entry that may be stale is dropped, and updates stay compare-and-set on the
 * durable version, so a stale entry can never make a write lose another one.
 */
export class CachedStore implements SessionStore, UserIndexedStore {
  /** Why this store cannot list or revoke by user (its durable store's reason), or undefined. */
  readonly noUserIndex: string | undefined;
  readonly #cache: SessionStore;
  readonly #store: SessionStore;
  readonly #logger: Logger;
  /** Keys this process could not correct in the cache: read from the durable store until it can. */
  readonly #suspects = new Set<string>();

  constructor(options: CachedStoreOptions) {
    const isStore = (s: unknown): s is SessionStore =>
      !!s && typeof (s as SessionStore).load === 'function' && typeof (s as SessionStore).update === 'function';
    if (!isStore(options?.cache))
      throw new ConfigError('cache', 'give a server-side SessionStore as the cache, e.g. new RedisStore({ client })');
    if (!isStore(options.store))
      throw new ConfigError('store', 'give a durable SessionStore, e.g. new PostgresStore({ pool }) or new SqliteStore({ path })');
    if (options.cache === options.store) throw new ConfigError('cache', 'the cache and the durable store must be two different stores');
    this.#cache = options.cache;
    this.#store = options.store;
    const durable = options.store as Partial<UserIndexedStore> & { noUserIndex?: string };
    this.noUserIndex = durable.noUserIndex
      ? `CachedStore over a store that cannot: ${durable.noUserIndex}`
      : !durable.listByUser || !durable.revoke || !durable.touch
        ? 'the durable store of this CachedStore cannot find sessions by user'
        : undefined;
    this.#logger = options.logger ?? consoleLogger;
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    if (!this.#suspects.has(key)) {
      try {
        const hit = await this.#cache.load(key, now);
        if (hit) {
          const entry = entryOf(hit.data);
          if (entry) return { data: entry.d, expiresAt: hit.expiresAt, version: entry.v, lastSeenAt: hit.lastSeenAt };
          this.#logger.warn('session cache entry is not one CachedStore wrote; reading the durable store', { where: 'CachedStore' });
        }
      } catch (err) {
        this.#logger.warn('session cache failed on load; reading the durable store', { where: 'CachedStore', error: messageOf(err) });
      }
    }
    const found = await this.#store.load(key, now);
    if (found) {
      await this.#remember(key, found, now);
      await this.#confirm(key);
    }
    return found;
  }

  async create(key: string, data: SessionData, expiresAt: number, now = Date.now()): Promise<number | null> {
    const version = await this.#store.create(key, data, expiresAt, now);
    if (version !== null) {
      // A new key: whatever the cache holds under it is not this session.
      await this.#forget(key);
      await this.#remember(key, { data, expiresAt, version }, now);
    }
    return version;
  }

  async update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now = Date.now()): Promise<UpdateResult> {
    const result = await this.#store.update(key, data, expiresAt, expectedVersion, now);
    if (result.status === 'ok') {
      await this.#remember(key, { data, expiresAt, version: result.version }, now);
      await this.#confirm(key);
    } else {
      // The caller read an older version, maybe from the cache: drop it so the reload reads the durable store.
      await this.#forget(key);
    }
    return result;
  }

  /** Deletes from the durable store, then from the cache; a cache that cannot delete is StoreUnavailableError, since it would keep serving the session. */
  async delete(key: string): Promise<void> {
    await this.#store.delete(key);
    try {
      await this.#cache.delete(key);
    } catch (err) {
      this.#suspect(key);
      this.#logger.error('session cache failed on delete; the session is gone from the durable store but the cache may still serve it', {
        where: 'CachedStore',
        error: messageOf(err),
      });
      throw new StoreUnavailableError(
        `the session cache failed to delete a session (${messageOf(err)}); retry once the cache is reachable`,
        { cause: err },
      );
    }
    this.#suspects.delete(key);
  }

  exists(key: string): Promise<boolean> {
    return this.#store.exists(key);
  }

  // Accounts and devices: the durable store keeps the user index; the cache follows.

  async touch(key: string, expiresAt: number, now: number, userId?: string | null): Promise<boolean> {
    const live = await this.#indexed().touch(key, expiresAt, now, userId);
    if (!live) {
      await this.#forget(key);
      return false;
    }
    try {
      if (this.#cache.touch) await this.#cache.touch(key, expiresAt, now, userId);
    } catch (err) {
      this.#logger.warn('session cache failed on touch; dropping the entry', { where: 'CachedStore', error: messageOf(err) });
      await this.#forget(key);
    }
    return true;
  }

  listByUser(userId: string, now: number): Promise<IndexedSession[]> {
    return this.#indexed().listByUser(userId, now);
  }

  /** Revokes in the durable store, then drops the cache entry (same id: both digest the key); a cache that cannot is StoreUnavailableError. */
  async revoke(id: string): Promise<boolean> {
    const existed = await this.#indexed().revoke(id);
    try {
      if (this.#cache.revoke) await this.#cache.revoke(id);
    } catch (err) {
      throw new StoreUnavailableError(
        `the session cache failed to drop a revoked session (${messageOf(err)}); it may still serve it: retry once the cache is reachable`,
        { cause: err },
      );
    }
    return existed;
  }

  #indexed(): UserIndexedStore {
    const reason = this.noUserIndex;
    if (reason !== undefined) throw new ConfigError('store', reason);
    return this.#store as SessionStore & UserIndexedStore;
  }

  async clearExpired(now = Date.now()): Promise<number> {
    const removed = await this.#store.clearExpired(now);
    try {
      await this.#cache.clearExpired(now);
    } catch (err) {
      this.#logger.warn('session cache failed on clearExpired; its entries expire with their sessions anyway', {
        where: 'CachedStore',
        error: messageOf(err),
      });
    }
    return removed;
  }

  stats(now = Date.now()): Promise<StoreStats> {
    return this.#store.stats(now);
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([this.#store.close(), this.#cache.close()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Puts the durable record in the cache unless the cache already holds the same or a newer
   * version (a parallel request got there first). Compare-and-set on the cache's own version,
   * so the cache only moves forward. Never throws: a failing cache is logged.
   */
  async #remember(key: string, record: StoredSession, now: number): Promise<void> {
    const entry: SessionData = { v: record.version, d: record.data } satisfies Entry;
    try {
      for (let attempt = 0; attempt < MAX_CACHE_ATTEMPTS; attempt++) {
        const current = await this.#cache.load(key, now);
        if (current) {
          const held = entryOf(current.data);
          if (held && held.v >= record.version) return this.#cleared(key);
          const r = await this.#cache.update(key, entry, record.expiresAt, current.version, now);
          if (r.status === 'ok') return this.#cleared(key);
        } else {
          if ((await this.#cache.create(key, entry, record.expiresAt, now)) !== null) return this.#cleared(key);
          await this.#cache.delete(key); // an expired leftover blocks a create-only write
        }
      }
      await this.#cache.delete(key); // kept losing races: a miss is always safe
      this.#cleared(key);
    } catch (err) {
      this.#logger.warn('session cache failed on write; the durable store has the session', {
        where: 'CachedStore',
        error: messageOf(err),
      });
      await this.#forget(key);
    }
  }

  /**
   * A logout that ran between the durable write and the cache write would leave the cache
   * holding a session that no longer exists: check the durable store after writing the cache.
   */
  async #confirm(key: string): Promise<void> {
    let live = false;
    try {
      live = await this.#store.exists(key);
    } catch {
      // cannot tell: dropping the cache entry is always safe
    }
    if (!live) await this.#forget(key);
  }

  /** Drops the cache entry; when the cache refuses, this process reads the key from the durable store. */
  async #forget(key: string): Promise<void> {
    try {
      await this.#cache.delete(key);
      this.#suspects.delete(key);
    } catch (err) {
      this.#suspect(key);
      this.#logger.warn('session cache failed on delete; reading this session from the durable store', {
        where: 'CachedStore',
        error: messageOf(err),
      });
    }
  }

  #suspect(key: string): void {
    if (this.#suspects.size >= MAX_SUSPECTS) this.#suspects.delete(this.#suspects.values().next().value!);
    this.#suspects.add(key);
  }

  #cleared(key: string): void {
    this.#suspects.delete(key);
  }
}

function messageOf(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}
