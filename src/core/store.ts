import type { SessionData } from './codec.js';
import type { Logger } from './log.js';
import type { IndexedSession } from './accounts.js';

export type { SessionData } from './codec.js';

/** What a server-side store holds for one session. */
export interface StoredSession {
  data: SessionData;
  /** When the session expires, in milliseconds since the epoch. */
  expiresAt: number;
  /** Changes on every write; an update is conditional on it (compare-and-set). */
  version: number;
  /** When a request last came with this session (its last write or touch); stores with a user index give it. */
  lastSeenAt?: number;
}

/**
 * What a store can do and cannot guarantee, declared so that sessionkit (and the conformance
 * suite) never guess from its methods. A store that declares none is read from its methods.
 */
export interface StoreCapabilities {
  /**
   * `true` when the store finds sessions by user (listByUser, revoke and touch: accounts and
   * devices, idleTimeout, maxSessionsPerUser), else a sentence saying why it cannot, which
   * sessionkit puts in its ConfigError.
   */
  readonly userIndex: true | string;
  /** The store answers load and update synchronously underneath (sessionkit's own stores then have a private synchronous facet). */
  readonly synchronous: boolean;
  /** Session keys are kept in clear at rest (Django's own table), not as their SHA-256 digest. */
  readonly keysInClear: boolean;
  /** The store forgets expired records by itself (a Redis TTL): `clearExpired` has nothing left to count. */
  readonly selfExpiring: boolean;
}

const NO_INDEX = 'this store cannot find sessions by user (it has no listByUser, revoke and touch)';

/** A store's declared capabilities, or, for a store that declares none, what its methods say. */
export function capabilitiesOf(store: AnyStore): StoreCapabilities {
  const declared = (store as { capabilities?: StoreCapabilities }).capabilities;
  if (declared !== undefined) return declared;
  const s = store as Partial<SessionStore & UserIndexedStore> & { noUserIndex?: string; keysInClear?: boolean };
  const indexed = s.listByUser !== undefined && s.revoke !== undefined && s.touch !== undefined;
  return {
    userIndex: s.noUserIndex ? s.noUserIndex : indexed ? true : NO_INDEX,
    synchronous: syncFacetOf(store) !== undefined,
    keysInClear: s.keysInClear === true,
    selfExpiring: false,
  };
}

/** The result of a conditional update. */
export type UpdateResult =
  | { status: 'ok'; version: number }
  /** the record changed since `expectedVersion` was read: reload, merge, retry */
  | { status: 'conflict' }
  /** the record is gone (deleted, flushed or expired elsewhere): never bring it back */
  | { status: 'missing' };

/** What `SessionStore.create` writes: one new record. */
export interface StoreCreate {
  /** The session key, as the visitor holds it (a native store keeps only `digestKey(key)` at rest). */
  key: string;
  /** The session data to keep. */
  data: SessionData;
  /** When the session expires, in milliseconds since the epoch. */
  expiresAt: number;
  /** The time of the write (and the session's last-seen time), in milliseconds since the epoch (injected by tests). @default Date.now() */
  now?: number;
  /**
   * `JSON.stringify(data)`, passed by the engine, which already made it to check the size: a
   * store that keeps JSON text can use it instead of encoding the data again.
   */
  json?: string;
}

/** What `SessionStore.update` writes: a record's new data, conditional on the version the request loaded. */
export interface StoreUpdate extends StoreCreate {
  /** The version the request loaded: the write happens only while the record still has it (compare-and-set). */
  expectedVersion: number;
}

/**
 * The contract every server-side store implements (Django's SessionBase backend methods).
 * Keys are passed as the visitor holds them; a native store keeps only `digestKey(key)` at rest.
 * Every method maps driver failures and timeouts to `StoreUnavailableError`.
 * `now` is milliseconds since the epoch (injected by tests; `Date.now()` otherwise).
 * The writes take one object (StoreCreate, StoreUpdate), whose `json`, passed by the engine, is
 * `JSON.stringify(data)`, already made to check the size: a store that keeps JSON text can use it
 * instead of encoding the data again.
 */
export interface SessionStore {
  /** The live session under `key`, or null when it is absent or expired. Never creates a record. */
  load(key: string, now?: number): Promise<StoredSession | null>;
  /** Create-only write. Returns the new version, or null when `key` is already taken (live or expired). */
  create(write: StoreCreate): Promise<number | null>;
  /** Update-only write, conditional on the version the request loaded. */
  update(write: StoreUpdate): Promise<UpdateResult>;
  /** Removes the record, if any. */
  delete(key: string): Promise<void>;
  /** Whether a record exists under `key`, expired or not (Django's `exists`). */
  exists(key: string): Promise<boolean>;
  /** Removes expired records; says how many. */
  clearExpired(now?: number): Promise<number>;
  /** How many records, how many of them expired, and the bytes of data held (for `sessionkit stats`). */
  stats(now?: number): Promise<StoreStats>;
  /** Releases connections the store owns. */
  close(): Promise<void>;
  /**
   * How long one operation may take, in milliseconds, before the store answers
   * StoreUnavailableError (the store's `timeout` option); a commit queued behind others of the
   * same session waits at most this plus a second without progress. @default 5000
   */
  readonly timeout?: number;
  /** What the store can do and cannot guarantee (see StoreCapabilities). */
  readonly capabilities?: StoreCapabilities;

  // Accounts and devices (see UserIndexedStore): every server-side store of sessionkit has them.
  touch?: UserIndexedStore['touch'];
  listByUser?: UserIndexedStore['listByUser'];
  revoke?: UserIndexedStore['revoke'];
}

/**
 * @internal Where sessionkit's own stores whose driver answers synchronously (in process memory,
 * better-sqlite3) keep their SyncFacet. Private to the package: never exported from an entry point.
 */
export const SYNC: unique symbol = Symbol('sessionkit.sync');

/**
 * @internal A store's synchronous fast path: `load` and `update` answered at once, so a request
 * waits on no promise (one promise turn costs about a fifth of a bare node:http request). Each
 * throws what the async method would reject with. Bound to its store: callable on its own. The
 * engine reads it once, at createSessions (see syncFacetOf).
 */
export interface SyncFacet {
  /** `load`, answered at once. */
  load(key: string, now: number): StoredSession | null;
  /** `update`, answered at once. */
  update(write: StoreUpdate): UpdateResult;
  /**
   * Where the `load` and `update` these answer for are found (the store's class prototype): the
   * engine uses each only while the store still answers with that very method, so a subclass or a
   * wrapper (a Proxy that counts, fails or logs `load` or `update`) that replaces it is still heard.
   */
  readonly answersFor: { readonly load?: unknown; readonly update?: unknown };
}

/**
 * @internal The store's synchronous facet, or undefined when it has none. Read as a property, so a
 * Proxy around the store (as applications and tests wrap stores) passes it on, or hides it.
 */
export function syncFacetOf(store: AnyStore): SyncFacet | undefined {
  const facet = (store as { [SYNC]?: SyncFacet })[SYNC];
  return typeof facet === 'object' && facet !== null ? facet : undefined;
}

/**
 * What a store adds for accounts and devices. It indexes sessions by the user their data names
 * (`userIdOf(data)` from core/accounts.ts, read at every create and update), so listing and
 * revoking cost O(that user's sessions), never a scan; and it keeps when each session was last
 * seen (set by every create, update and touch). A session's public id is `digestKey(key)`.
 */
export interface UserIndexedStore {
  /**
   * Sets the expiry and the last-seen time (`now`) of a live session without rewriting its data
   * or changing its version, so a touch never conflicts with a parallel write. False when the
   * session is absent or expired. `userId` is the user the session's data names (a store whose
   * index expires, as Redis's, keeps it alive as long as the session).
   */
  touch(key: string, expiresAt: number, now: number, userId?: string | null): Promise<boolean>;
  /** The user's live sessions, in any order; index entries of sessions gone since are dropped here. */
  listByUser(userId: string, now: number): Promise<IndexedSession[]>;
  /** Deletes the session with this public id (`digestKey(key)`); true when it existed. */
  revoke(id: string): Promise<boolean>;
}

/** What `sessionkit stats` prints: stored sessions, how many have expired, and the bytes of their data. */
export interface StoreStats {
  /** Stored sessions, expired ones included. */
  count: number;
  /** Of those, how many have expired (and `clearExpired` would remove). */
  expired: number;
  /** Bytes of session data held. */
  bytes: number;
}

/**
 * A store that keeps the whole session on the client (the signed cookie store): the cookie value
 * itself is the session. It has no records, so no conditional writes and no server-side logout.
 */
export interface ClientSideStore {
  readonly clientSide: true;
  /** The session a cookie value carries, or null when it does not verify or is older than `maxAge` seconds. */
  unseal(value: string, maxAge: number, now?: number): StoredSessionData | null;
  /** The cookie value for `data`; throws SessionDataError when it would not fit in a cookie. */
  seal(data: SessionData, now?: number): string;
  clearExpired(now?: number): Promise<number>;
  close(): Promise<void>;
}

/** What a client-side store reads out of a cookie value. */
export interface StoredSessionData {
  data: SessionData;
}

/** Any store `createSessions` takes: one that keeps sessions on the server, or the cookie store. */
export type AnyStore = SessionStore | ClientSideStore;

export function isClientSide(store: AnyStore): store is ClientSideStore {
  return (store as ClientSideStore).clientSide === true;
}

/** What `createStore(url, options)` hands every store it builds from a URL. */
export interface CreateStoreOptions {
  /** Where the store reports corrupt data and dropped connections. @default console */
  logger?: Logger;
}
