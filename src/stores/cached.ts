import { consoleLogger, type Logger } from '../core/log.js';
import type { SessionData } from '../core/codec.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import type { IndexedSession } from '../core/accounts.js';
import {
  capabilitiesOf,
  type SessionStore,
  type StoreCapabilities,
  type StoreCreate,
  type StoredSession,
  type StoreUpdate,
  type StoreStats,
  type UpdateResult,
  type UserIndexedStore,
} from '../core/store.js';

export interface CachedStoreOptions {
  /**
   * The fast store read first (a RedisStore, or a MemoryStore in one process). Every process
   * that shares `store` must share this cache too, as Django requires of cached_db.
   */
  cache: SessionStore;
  /** The durable store that holds the truth (SqliteStore, PostgresStore): every write goes here first. */
  store: SessionStore;
  /** Where cache failures are reported (at most one line a second). @default console */
  logger?: Logger;
  /** The clock that times the retries of a failed cache, in milliseconds (tests inject one). @default Date.now */
  clock?: () => number;
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

/**
 * What the cache holds for a session a logout deleted, until the session would have expired: a
 * load reads it as no session, and no refill overwrites it. Only a hint: the durable store, asked
 * at every hit, is what says a session exists.
 */
const TOMBSTONE: SessionData = { deleted: true };
const DELETED = Symbol('deleted');

function entryOf(data: SessionData): Entry | typeof DELETED | null {
  const { v, d } = data as Partial<Entry>;
  const keys = Object.keys(data).length;
  if (Number.isSafeInteger(v) && d !== null && typeof d === 'object' && !Array.isArray(d) && keys === 2) return { v: v!, d };
  if ((data as { deleted?: unknown }).deleted === true && keys === 1) return DELETED;
  return null;
}

/** Keys whose cache entry may be stale because the cache refused a write (bounded). */
const MAX_SUSPECTS = 10_000;
const MAX_CACHE_ATTEMPTS = 5;
/** How long a failed cache is left alone before one probe asks it again, and the least time between two log lines. */
const CACHE_RETRY_MS = 1000;
/** The key the probe reads: not a session key (those are 32 characters of [a-z0-9]), so never a session. */
const PROBE_KEY = 'sessionkit-cache-probe';

/** Thrown (internally, never out of CachedStore) instead of asking a cache the breaker keeps off. */
const SKIPPED = new StoreUnavailableError('the session cache failed a moment ago and is left alone for a second');

/**
 * The circuit breaker in front of the cache. Closed, every call goes to the cache; the first call
 * that fails (or times out) opens it, which also releases at once every call still waiting on the
 * cache. Open, no call goes to the cache: once `CACHE_RETRY_MS` passed, the next call starts one
 * probe in the background (the caller does not wait for it) and is itself served without the
 * cache; the probe's success closes the breaker, its failure keeps it open for another interval.
 * Failures are logged at most once per `CACHE_RETRY_MS`, with how many were held back.
 */
class Breaker {
  #openedAt: number | null = null;
  #probing = false;
  #lastLogAt = Number.NEGATIVE_INFINITY;
  #held = 0;
  #trip!: { promise: Promise<never>; reject: (err: unknown) => void };

  readonly #clock: () => number;
  readonly #logger: Logger;
  readonly #probe: () => Promise<unknown>;

  constructor(clock: () => number, logger: Logger, probe: () => Promise<unknown>) {
    this.#clock = clock;
    this.#logger = logger;
    this.#probe = probe;
    this.#arm();
  }

  /** Whether calls may go to the cache now; while open, starts the probe when one is due. */
  closed(): boolean {
    if (this.#openedAt === null) return true;
    this.#maybeProbe();
    return false;
  }

  /** Runs one cache call, or throws SKIPPED while the breaker is open. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.#openedAt !== null) {
      this.#maybeProbe();
      throw SKIPPED;
    }
    const trip = this.#trip.promise;
    try {
      return await Promise.race([fn(), trip]);
    } catch (err) {
      if (err === SKIPPED) throw err; // released: the breaker opened meanwhile
      this.#fail(what, err);
      throw SKIPPED;
    }
  }

  #maybeProbe(): void {
    if (this.#probing || this.#clock() - this.#openedAt! < CACHE_RETRY_MS) return;
    this.#probing = true;
    this.#probe().then(
      () => {
        this.#probing = false;
        this.#close();
      },
      (err: unknown) => {
        this.#probing = false;
        this.#openedAt = this.#clock();
        this.#log('probe', err);
      },
    );
  }

  #fail(what: string, err: unknown): void {
    if (this.#openedAt === null) {
      this.#openedAt = this.#clock();
      this.#trip.reject(SKIPPED);
    }
    this.#log(what, err);
  }

  #close(): void {
    if (this.#openedAt === null) return;
    this.#openedAt = null;
    this.#arm();
    this.#logger.warn('session cache answers again; reading it again', { where: 'CachedStore' });
  }

  #arm(): void {
    let reject!: (err: unknown) => void;
    const promise = new Promise<never>((_, r) => {
      reject = r;
    });
    promise.catch(() => {}); // nobody may be racing it when it rejects
    this.#trip = { promise, reject };
  }

  #log(what: string, err: unknown): void {
    const now = this.#clock();
    if (now - this.#lastLogAt < CACHE_RETRY_MS) {
      this.#held++;
      return;
    }
    this.#lastLogAt = now;
    const held = this.#held;
    this.#held = 0;
    this.#logger.warn(`session cache failed on ${what}; serving from the durable store, asking the cache again at most once a second`, {
      where: 'CachedStore',
      error: messageOf(err),
      ...(held > 0 ? { suppressed: held } : {}),
    });
  }
}

/**
 * Django's cached_db: a cache in front of a durable store, composed from two SessionStores.
 *
 * The durable store is the truth. Every write (create, update, touch, delete, revoke) goes there
 * first and its answer is the answer: when it fails the result is StoreUnavailableError and the
 * cache was not touched, so a 503 applied nothing (as far as the durable store's own answer is
 * exact: a write the durable store applied but reported as failed, a lost reply, stays applied). The
 * cache follows, best effort: a cache that fails never fails a request.
 *
 * A cache hit is served only once the durable store said the record exists (asked in parallel
 * with the cache, a key lookup without the data): so a logout (a durable delete or revoke) is in
 * force in every process at once, whatever the cache holds: an entry it could not drop while it
 * was down, an entry a refill in flight wrote back, or a whole cache restored from an older
 * snapshot. A hit can still be an older version of a live session (a write the cache missed):
 * every update is compare-and-set on the durable version, so such a read loses no write, and its
 * first write reloads from the durable store.
 *
 * A cache that fails or times out is left alone (a circuit breaker): requests are served from
 * the durable store, the cache is asked again at most once a second, and its failure is logged
 * at most once a second.
 */
export class CachedStore implements SessionStore, UserIndexedStore {
  /** Why this store cannot list or revoke by user (its durable store's reason), or undefined. */
  readonly noUserIndex: string | undefined;
  /** Its durable store's user index and keys at rest; never synchronous (the cache is asked too). */
  readonly capabilities: StoreCapabilities;
  readonly #cache: SessionStore;
  readonly #store: SessionStore;
  readonly #logger: Logger;
  readonly #breaker: Breaker;
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
    if (options.clock !== undefined && typeof options.clock !== 'function')
      throw new ConfigError('clock', 'give a function that returns milliseconds since the epoch, e.g. () => Date.now()');
    this.#cache = options.cache;
    this.#store = options.store;
    const durableCan = capabilitiesOf(options.store);
    this.noUserIndex = durableCan.userIndex === true ? undefined : `CachedStore over a store that cannot: ${durableCan.userIndex}`;
    this.capabilities = {
      userIndex: this.noUserIndex ?? true,
      synchronous: false,
      keysInClear: durableCan.keysInClear,
      selfExpiring: false,
    };
    this.#logger = options.logger ?? consoleLogger;
    this.#breaker = new Breaker(options.clock ?? Date.now, this.#logger, () => this.#cache.exists(PROBE_KEY));
  }

  async load(key: string, now = Date.now()): Promise<StoredSession | null> {
    if (!this.#suspects.has(key) && this.#breaker.closed()) {
      const cached = this.#ask('load', () => this.#cache.load(key, now)).catch(() => undefined);
      // Asked in parallel: a cache entry is only ever served for a record the durable store has.
      const live = this.#store.exists(key);
      live.catch(() => {}); // awaited below, where a failure is the answer
      const hit = await cached;
      if (!(await live)) return null;
      if (hit) {
        const entry = entryOf(hit.data);
        if (entry !== null && entry !== DELETED)
          return { data: entry.d, expiresAt: hit.expiresAt, version: entry.v, lastSeenAt: hit.lastSeenAt };
        if (entry === null)
          this.#logger.warn('session cache entry is not one CachedStore wrote; reading the durable store', { where: 'CachedStore' });
        // A tombstone over a record that exists: a key made again after a logout; the durable store says.
      }
    }
    const found = await this.#store.load(key, now);
    if (found && (await this.#remember(key, found, now, false))) await this.#confirm(key, now);
    return found;
  }

  async create({ key, data, expiresAt, now = Date.now(), json }: StoreCreate): Promise<number | null> {
    const version = await this.#store.create({ key, data, expiresAt, now, json });
    // A new record: whatever the cache holds under its key (a tombstone too) is not this session.
    if (version !== null) await this.#remember(key, { data, expiresAt, version }, now, true);
    return version;
  }

  async update({ key, data, expiresAt, expectedVersion, now = Date.now(), json }: StoreUpdate): Promise<UpdateResult> {
    const result = await this.#store.update({ key, data, expiresAt, expectedVersion, now, json });
    if (result.status === 'ok') {
      if (await this.#remember(key, { data, expiresAt, version: result.version }, now, false)) await this.#confirm(key, now);
    } else {
      // The caller read an older version, maybe from the cache: drop it so the reload reads the durable store.
      await this.#forget(key, now);
    }
    return result;
  }

  /**
   * The durable delete, then a tombstone in the cache (best effort: the durable store, asked at
   * every hit, already makes the logout hold in every process). When the durable store fails, this
   * is its StoreUnavailableError and nothing was deleted anywhere: a retry applies the logout.
   */
  async delete(key: string): Promise<void> {
    const now = Date.now();
    const found = await this.#store.load(key, now);
    await this.#store.delete(key);
    this.#suspects.delete(key);
    await this.#bury(key, found?.expiresAt ?? 0, now).catch(() => {});
  }

  exists(key: string): Promise<boolean> {
    return this.#store.exists(key);
  }

  // Accounts and devices: the durable store keeps the user index; the cache follows.

  async touch(key: string, expiresAt: number, now: number, userId?: string | null): Promise<boolean> {
    const live = await this.#indexed().touch(key, expiresAt, now, userId);
    if (!live) {
      await this.#forget(key, now);
      return false;
    }
    const cache = this.#cache;
    if (cache.touch) {
      // A cache that missed the touch holds an earlier expiry: it drops the entry early, a miss.
      await this.#ask('write', () => cache.touch!(key, expiresAt, now, userId)).catch(() => this.#forget(key, now));
    }
    return true;
  }

  listByUser(userId: string, now: number): Promise<IndexedSession[]> {
    return this.#indexed().listByUser(userId, now);
  }

  /**
   * Revokes in the durable store, then drops the cache entry (best effort, as for delete). When
   * the durable store fails, this is its StoreUnavailableError and nothing was revoked.
   */
  async revoke(id: string): Promise<boolean> {
    const existed = await this.#indexed().revoke(id);
    const cache = this.#cache;
    if (cache.revoke) await this.#ask('write', () => cache.revoke!(id)).catch(() => {});
    return existed;
  }

  #indexed(): UserIndexedStore {
    const reason = this.noUserIndex;
    if (reason !== undefined) throw new ConfigError('store', reason);
    return this.#store as SessionStore & UserIndexedStore;
  }

  async clearExpired(now = Date.now()): Promise<number> {
    const removed = await this.#store.clearExpired(now);
    // A cache that cannot clear: its entries expire with their sessions anyway.
    await this.#ask('clearExpired', () => this.#cache.clearExpired(now)).catch(() => {});
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

  /** One call to the cache through the breaker: throws SKIPPED when it is open or the call failed. */
  #ask<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.#breaker.call(what, fn);
  }

  /**
   * Puts the durable record in the cache unless the cache already holds the same or a newer
   * version (a parallel request got there first) or a tombstone. `fresh` (a record just created)
   * replaces whatever the key held. Compare-and-set on the cache's own version, so the cache only
   * moves forward. Never throws; false when the cache could not be written (and the entry was not
   * dropped either: this process then reads the key from the durable store).
   */
  async #remember(key: string, record: StoredSession, now: number, fresh: boolean): Promise<boolean> {
    const entry: SessionData = { v: record.version, d: record.data } satisfies Entry;
    const cache = this.#cache;
    try {
      for (let attempt = 0; attempt < MAX_CACHE_ATTEMPTS; attempt++) {
        const current = await this.#ask('write', () => cache.load(key, now));
        if (current) {
          const held = entryOf(current.data);
          if (!fresh && (held === DELETED || (held && held.v >= record.version))) return this.#cleared(key);
          const r = await this.#ask('write', () =>
            cache.update({ key, data: entry, expiresAt: record.expiresAt, expectedVersion: current.version, now }),
          );
          if (r.status === 'ok') return this.#cleared(key);
        } else {
          if ((await this.#ask('write', () => cache.create({ key, data: entry, expiresAt: record.expiresAt, now }))) !== null)
            return this.#cleared(key);
          await this.#dropLeftover(key, now);
        }
      }
      return await this.#forget(key, now); // kept losing races: a miss is always safe
    } catch {
      // the breaker logged it
      return this.#forget(key, now);
    }
  }

  /**
   * A logout that ran between the durable write and the cache write leaves the cache holding a
   * session that no longer exists. Harmless (a hit is served only for a record the durable store
   * has), but dropped here so the cache does not keep it.
   */
  async #confirm(key: string, now: number): Promise<void> {
    let live = false;
    try {
      live = await this.#store.exists(key);
    } catch {
      // cannot tell: dropping the cache entry is always safe
    }
    if (!live) await this.#forget(key, now);
  }

  /**
   * Replaces the cache entry with a tombstone lasting until `expiresAt`, or until the entry would
   * have expired if that is later. Compare-and-set, so no refill in flight overwrites it. Throws
   * when the cache fails.
   */
  async #bury(key: string, expiresAt: number, now: number): Promise<void> {
    const cache = this.#cache;
    for (let attempt = 0; attempt < MAX_CACHE_ATTEMPTS; attempt++) {
      const current = await this.#ask('delete', () => cache.load(key, now));
      const until = Math.max(expiresAt, current?.expiresAt ?? 0);
      if (until <= now) return; // no live session anywhere: nothing could serve it
      if (current) {
        if (entryOf(current.data) === DELETED && current.expiresAt >= until) return;
        if (
          (await this.#ask('delete', () => cache.update({ key, data: TOMBSTONE, expiresAt: until, expectedVersion: current.version, now })))
            .status === 'ok'
        )
          return;
      } else {
        if ((await this.#ask('delete', () => cache.create({ key, data: TOMBSTONE, expiresAt: until, now }))) !== null) return;
        await this.#dropLeftover(key, now);
      }
    }
  }

  /**
   * A create-only write found the key taken. Usually a parallel writer got there first (the next
   * round reads what it wrote: maybe a tombstone, which must stay); only when the key still reads
   * as absent is it an expired leftover (stores that keep expired records), deleted so a create
   * can succeed.
   */
  async #dropLeftover(key: string, now: number): Promise<void> {
    const cache = this.#cache;
    if ((await this.#ask('write', () => cache.load(key, now))) === null) await this.#ask('write', () => cache.delete(key));
  }

  /**
   * Drops a live cache entry (never a tombstone), with compare-and-set: an update to an expiry in
   * 1970, which a cache treats as gone whatever its clock, so a tombstone written meanwhile stays.
   * When the cache refuses, this process reads the key from the durable store. Always false: no
   * entry of the record was written.
   */
  async #forget(key: string, now: number): Promise<false> {
    const cache = this.#cache;
    try {
      for (let attempt = 0; attempt < MAX_CACHE_ATTEMPTS; attempt++) {
        const current = await this.#ask('delete', () => cache.load(key, now));
        if (!current || entryOf(current.data) === DELETED) return this.#cleared(key) && false;
        if (
          (await this.#ask('delete', () => cache.update({ key, data: current.data, expiresAt: 0, expectedVersion: current.version, now })))
            .status !== 'conflict'
        )
          return this.#cleared(key) && false;
      }
    } catch {
      // the breaker logged it
    }
    this.#suspect(key);
    return false;
  }

  #suspect(key: string): void {
    if (this.#suspects.size >= MAX_SUSPECTS) this.#suspects.delete(this.#suspects.values().next().value!);
    this.#suspects.add(key);
  }

  #cleared(key: string): true {
    this.#suspects.delete(key);
    return true;
  }
}

function messageOf(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}
