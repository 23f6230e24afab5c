import { checkUserId, CSRF_KEY, META_KEY, type SessionMeta, userIdOf } from './accounts.js';
import { maskCsrfSecret, newCsrfSecret } from './csrf-token.js';
import { checkValue, emptyData, type SessionData } from './codec.js';
import type { RequestLike } from './cookie.js';
import { SessionKeyError } from './errors.js';
import type { MigratedSession } from './migrate.js';
import { atBrowserClose, EXPIRY_KEY, expiresAt, expiryAge, expiryValue } from './expiry.js';

/** The reserved key listing the keys set by `flash`, which the next read removes. */
export const FLASH_KEY = '_flash';

/** One change made by this request, replayed onto a fresher record when a commit conflicts. */
export type Op =
  | { kind: 'set'; key: string; value: unknown }
  | { kind: 'delete'; key: string }
  | { kind: 'modify'; key: string; fn: (current: any) => unknown }
  | { kind: 'clear' }
  | { kind: 'flash'; key: string; value: unknown }
  | { kind: 'unflash'; key: string };

/** Applies this request's changes, in order, to `data` (mutating it). */
export function replay(data: SessionData, ops: readonly Op[]): SessionData {
  for (const op of ops) {
    switch (op.kind) {
      case 'set':
        data[op.key] = op.value;
        break;
      case 'delete':
        delete data[op.key];
        break;
      case 'modify': {
        const value = op.fn(Object.hasOwn(data, op.key) ? data[op.key] : undefined);
        checkValue(op.key, value);
        data[op.key] = value;
        break;
      }
      case 'clear':
        for (const k of Object.keys(data)) delete data[k];
        break;
      case 'flash':
        data[op.key] = op.value;
        markFlash(data, op.key);
        break;
      case 'unflash':
        delete data[op.key];
        unmarkFlash(data, op.key);
        break;
    }
  }
  return data;
}

function markFlash(data: SessionData, key: string): void {
  const list = data[FLASH_KEY];
  if (!Array.isArray(list)) data[FLASH_KEY] = [key];
  else if (!list.includes(key)) data[FLASH_KEY] = [...list, key];
}

function unmarkFlash(data: SessionData, key: string): void {
  const list = data[FLASH_KEY];
  if (!Array.isArray(list)) return;
  const rest = list.filter((k) => k !== key);
  if (rest.length === 0) delete data[FLASH_KEY];
  else data[FLASH_KEY] = rest;
}

/** What the engine (sessions.ts) needs of a session; not part of the public API. */
export interface SessionEngine {
  /** The default age in seconds (cookie.maxAge). */
  readonly maxAge: number;
  readonly expireAtBrowserClose: boolean;
  now(): number;
  flush(state: SessionState): Promise<void>;
  cycleKey(state: SessionState): Promise<void>;
  /** Accounts and devices: the record `login` keeps (who, when, from where). */
  signIn(state: SessionState, userId: string): SessionMeta;
  /** After `login` saved the session under its new key (maxSessionsPerUser). */
  signedIn(state: SessionState, userId: string): Promise<void>;
  /** The public id of the saved session, or null. */
  publicId(state: SessionState): string | null;
  /** createSessions' `trustProxy` (csrfProtection reads the request's own origin with it). */
  readonly trustProxy?: boolean | number;
}

/** The mutable state of one session during one request. */
export interface SessionState {
  data: SessionData;
  key: string | null;
  /** The version of the stored record this request loaded or last wrote (0: none). */
  version: number;
  /** Changes since the last write, replayed on a conflict (null: none; allocated on the first). */
  ops: Op[] | null;
  /** JSON of object values handed out by reads, to detect nested changes at commit. */
  snapshots: Map<string, string> | null;
  accessed: boolean;
  modified: boolean;
  /** The request carried the session cookie. */
  hadCookie: boolean;
  /** The request's cookie named no live session; until the session is looked at, it is not empty (Django). */
  unresolvedCookie: boolean;
  /** The request the session was loaded for: `login` reads its user agent and address. */
  request: RequestLike;
  /** When the stored session was last seen (write or touch), as the store said at load; null: unknown or new. */
  lastSeenAt: number | null;
  /** A previous system's session this one was made from (`migrate`), until it is saved. */
  migrated: MigratedSession | null;
}

/** Sessions whose logout asked for `Clear-Site-Data: "cookies"` (`flush({ clearSiteData: true })`), until committed. */
export const clearSiteDataAsked = new WeakSet<SessionState>();

/** A request's state before anything is loaded. */
export function initialState(hadCookie: boolean): SessionState {
  return {
    data: emptyData(),
    key: null,
    version: 0,
    ops: null,
    snapshots: null,
    accessed: false,
    modified: false,
    hadCookie,
    unresolvedCookie: false,
    request: undefined,
    lastSeenAt: null,
    migrated: null,
  };
}

/** The request's cookie named a live session: its data, key and version are this request's. */
export function loaded(s: SessionState, key: string, data: SessionData, version: number): void {
  s.data = data;
  s.key = key;
  s.version = version;
}

/** Made from a previous system's session (`migrate`): its data, to be saved under a new key. */
export function migrated(s: SessionState, data: SessionData, from: MigratedSession): void {
  s.data = data;
  s.modified = true;
  s.migrated = from;
}

/** The request's cookie named no live session (unknown, tampered, expired): a fresh one, not yet empty (Django). */
export function unresolved(s: SessionState): void {
  s.unresolvedCookie = true;
}

/** Written to the store (or sealed) under `key` at `version`: nothing left to save. */
export function saved(s: SessionState, key: string, version: number): void {
  s.key = key;
  s.version = version;
  s.ops = null;
  s.snapshots = null;
  s.modified = false;
  s.unresolvedCookie = false;
}

/** A conflicting write came first: this request's changes replayed on the fresh record. */
export function rebased(s: SessionState, data: SessionData, version: number): void {
  s.data = replay(data, s.ops ?? []);
  s.version = version;
}

/** Flushed (logout): no data, no key; a new key is made on the next save. */
export function reset(s: SessionState): void {
  s.data = emptyData();
  s.ops = null;
  s.snapshots = null;
  s.key = null;
  s.version = 0;
  s.unresolvedCookie = false;
  s.modified = true;
}

/** To be saved at commit whatever else happened (a new key, a new expiry). */
export function dirty(s: SessionState): void {
  s.modified = true;
  s.unresolvedCookie = false;
}

type Key<D> = keyof D & string;

let stateOf: (session: Session<any>) => SessionState;
let engineOf: (session: Session<any>) => SessionEngine;

/**
 * One visitor's session during one request: Django's `request.session`, typed by `Data`.
 * Loaded before the handler runs (when the request carried a cookie); saved by the adapter's commit.
 */
export class Session<Data extends Record<string, any> = Record<string, any>> {
  readonly #s: SessionState;
  readonly #engine: SessionEngine;

  static {
    stateOf = (session) => session.#s;
    engineOf = (session) => session.#engine;
  }

  /** @internal Sessions are made by `sessions.load()`. */
  constructor(engine: SessionEngine, state: SessionState) {
    this.#engine = engine;
    this.#s = state;
  }

  /** The session key; null until the session is saved [session_key]. */
  get key(): string | null {
    return this.#s.key;
  }

  #touch(): SessionData {
    const s = this.#s;
    s.accessed = true;
    s.unresolvedCookie = false;
    return s.data;
  }

  #handOut(key: string, value: unknown): void {
    if (value !== null && typeof value === 'object') {
      const s = this.#s;
      s.snapshots ??= new Map();
      if (!s.snapshots.has(key)) s.snapshots.set(key, JSON.stringify(value));
    }
  }

  #write(op: Op): void {
    const s = this.#s;
    s.modified = true;
    (s.ops ??= []).push(op);
    if (op.kind === 'clear') s.snapshots = null;
    else {
      s.snapshots?.delete(op.key);
      if (op.kind === 'flash' || op.kind === 'unflash') s.snapshots?.delete(FLASH_KEY);
    }
  }

  /** The value under `key`, or `fallback` (undefined when not given) [get]. */
  get<K extends Key<Data>>(key: K): Data[K] | undefined;
  get<K extends Key<Data>>(key: K, fallback: Data[K]): Data[K];
  get(key: string, fallback?: unknown): unknown {
    const data = this.#touch();
    if (!Object.hasOwn(data, key)) return fallback;
    const value = data[key];
    const flashed = data[FLASH_KEY];
    if (flashed !== undefined && Array.isArray(flashed) && flashed.includes(key)) {
      const op: Op = { kind: 'unflash', key };
      replay(data, [op]);
      this.#write(op);
      return value;
    }
    this.#handOut(key, value);
    return value;
  }

  /**
   * Stores a value that `get(key)` returns once, on the next request that reads it, and then
   * removes (a message shown after a redirect). Same checks as `set`.
   */
  flash<K extends Key<Data>>(key: K, value: Data[K]): void {
    checkValue(key, value);
    const op: Op = { kind: 'flash', key, value };
    replay(this.#touch(), [op]);
    this.#write(op);
  }

  /** The value under `key`; throws SessionKeyError when absent [session[key]]. */
  require<K extends Key<Data>>(key: K): Data[K] {
    const data = this.#touch();
    if (!Object.hasOwn(data, key)) throw new SessionKeyError(key);
    const value = data[key];
    this.#handOut(key, value);
    return value as Data[K];
  }

  /** Stores a value; throws SessionDataError at once when it does not survive a JSON round trip [session[key] = value]. */
  set<K extends Key<Data>>(key: K, value: Data[K]): void {
    checkValue(key, value);
    this.#touch()[key] = value;
    this.#write({ kind: 'set', key, value });
  }

  /** Removes `key`; true when it was there [del session[key]]. */
  delete(key: Key<Data>): boolean {
    const data = this.#touch();
    if (!Object.hasOwn(data, key)) return false;
    delete data[key];
    this.#write({ kind: 'delete', key });
    return true;
  }

  /** [key in session] */
  has(key: Key<Data>): boolean {
    return Object.hasOwn(this.#touch(), key);
  }

  /** Removes and returns the value; without a fallback an absent key throws SessionKeyError [pop]. */
  pop<K extends Key<Data>>(key: K): Data[K];
  pop<K extends Key<Data>>(key: K, fallback: Data[K]): Data[K];
  pop(key: string, ...fallback: unknown[]): unknown {
    const data = this.#touch();
    if (!Object.hasOwn(data, key)) {
      if (fallback.length > 0) return fallback[0];
      throw new SessionKeyError(key);
    }
    const value = data[key];
    delete data[key];
    this.#write({ kind: 'delete', key });
    return value;
  }

  /** The existing value, or stores and returns `value` [setdefault]. */
  setDefault<K extends Key<Data>>(key: K, value: Data[K]): Data[K] {
    const data = this.#touch();
    if (Object.hasOwn(data, key)) {
      this.#handOut(key, data[key]);
      return data[key] as Data[K];
    }
    this.set(key, value);
    return value;
  }

  /**
   * Atomic read-modify-write of one key: `fn(current)` gives the new value, which is returned.
   * When a parallel request changed the session first, `fn` runs again on the fresh value at commit.
   * `fn` must be synchronous and free of side effects, since it may run more than once.
   */
  modify<K extends Key<Data>>(key: K, fn: (current: Data[K] | undefined) => Data[K]): Data[K] {
    const data = this.#touch();
    const value = fn((Object.hasOwn(data, key) ? data[key] : undefined) as Data[K] | undefined);
    checkValue(key, value);
    data[key] = value;
    this.#write({ kind: 'modify', key, fn });
    return value;
  }

  /** Sets every key of `values` [update]. */
  update(values: Partial<Data>): void {
    for (const k of Object.keys(values)) checkValue(k, values[k]);
    const data = this.#touch();
    this.#s.modified = true;
    for (const k of Object.keys(values)) {
      data[k] = values[k];
      this.#write({ kind: 'set', key: k, value: values[k] });
    }
  }

  /** [keys] */
  keys(): IterableIterator<Key<Data>> {
    return (Object.keys(this.#touch()) as Key<Data>[])[Symbol.iterator]();
  }

  /** [values] */
  values(): IterableIterator<Data[Key<Data>]> {
    return this.#entries()
      .map(([, v]) => v)
      [Symbol.iterator]();
  }

  /** [items] */
  entries(): IterableIterator<[Key<Data>, Data[Key<Data>]]> {
    return this.#entries()[Symbol.iterator]();
  }

  #entries(): [Key<Data>, Data[Key<Data>]][] {
    const data = this.#touch();
    const out = Object.entries(data) as [Key<Data>, Data[Key<Data>]][];
    for (const [k, v] of out) this.#handOut(k, v);
    return out;
  }

  /** Removes every key and keeps the session key [clear]. */
  clear(): void {
    const s = this.#s;
    s.accessed = true;
    s.unresolvedCookie = false;
    s.data = emptyData();
    this.#write({ kind: 'clear' });
  }

  /** No data and no key [is_empty]. */
  get isEmpty(): boolean {
    const s = this.#s;
    if (s.unresolvedCookie) return false;
    if (s.key !== null) return false;
    for (const _ in s.data) return false;
    return true;
  }

  /** Whether the session will be saved at commit; may be set by hand [modified]. */
  get modified(): boolean {
    return this.#s.modified;
  }
  set modified(value: boolean) {
    this.#s.modified = value;
  }

  /** Data was read or written: the response gets `Vary: Cookie` [accessed]. */
  get accessed(): boolean {
    return this.#s.accessed;
  }

  /**
   * Deletes the session from the store, clears it; a new key is made on the next save (logout)
   * [flush]. `{ clearSiteData: true }` also sends `Clear-Site-Data: "cookies"`, so the browser
   * drops every cookie of the site (https://www.w3.org/TR/clear-site-data/).
   */
  async flush(options?: { clearSiteData?: boolean }): Promise<void> {
    this.#touch();
    if (options?.clearSiteData === true) clearSiteDataAsked.add(this.#s);
    await this.#engine.flush(this.#s);
  }

  /** Keeps the data under a new key and deletes the old one (login, against fixation) [cycle_key]. */
  async cycleKey(): Promise<void> {
    this.#touch();
    await this.#engine.cycleKey(this.#s);
  }

  /**
   * Signs the session in as `userId`: the key is cycled (as `cycleKey`, against fixation), the
   * session is bound to the user and records when, from which user agent and which address
   * (`trustProxy`); the CSRF token is replaced. `sessions.listUserSessions(userId)` lists it.
   * `flush()` signs out. With `maxSessionsPerUser`, the user's least recently seen sessions
   * beyond it are revoked.
   */
  async login(userId: string): Promise<void> {
    const id = checkUserId(userId);
    const data = this.#touch();
    const meta = this.#engine.signIn(this.#s, id);
    data[META_KEY] = meta;
    this.#write({ kind: 'set', key: META_KEY, value: meta });
    // a new secret at once: a signed-in session is never guarded by the request's headers alone
    const secret = newCsrfSecret();
    data[CSRF_KEY] = secret;
    this.#write({ kind: 'set', key: CSRF_KEY, value: secret });
    await this.#engine.cycleKey(this.#s);
    await this.#engine.signedIn(this.#s, id);
  }

  /** The user this session is signed in as (`login`), or null. */
  get userId(): string | null {
    return userIdOf(this.#touch());
  }

  /**
   * The public id of the saved session: safe to show on a page and to put in a form (to
   * `sessions.revokeSession(id)`); it is a one-way digest of the key, so it can never be turned
   * into the key or used as a cookie. Null until the session is saved, and on the cookie store.
   */
  get id(): string | null {
    return this.#engine.publicId(this.#s);
  }

  /**
   * A CSRF token for this session: its secret (made on first use and kept in the session, so the
   * session is saved; `login` replaces it) masked anew on every call, so no two pages carry the
   * same bytes (BREACH). Every value verifies (`verifyCsrfToken`) for this session only. Put it in
   * every form as the `csrf_token` field (or send it as the X-CSRF-Token header); the adapters'
   * `csrfProtection` checks it when a request carries neither Sec-Fetch-Site nor Origin.
   */
  csrfToken(): string {
    const data = this.#touch();
    const stored = Object.hasOwn(data, CSRF_KEY) ? data[CSRF_KEY] : undefined;
    if (typeof stored === 'string' && stored !== '') return maskCsrfSecret(stored);
    const secret = newCsrfSecret();
    data[CSRF_KEY] = secret;
    this.#write({ kind: 'set', key: CSRF_KEY, value: secret });
    return maskCsrfSecret(secret);
  }

  /**
   * Seconds of inactivity after which the session expires (0: when the browser closes), an
   * absolute date, or null for the default [set_expiry].
   */
  setExpiry(value: number | Date | null): void {
    const data = this.#touch();
    if (value === null) {
      if (Object.hasOwn(data, EXPIRY_KEY)) {
        delete data[EXPIRY_KEY];
        this.#write({ kind: 'delete', key: EXPIRY_KEY });
      }
      return;
    }
    const stored = expiryValue(value, this.#engine.now());
    data[EXPIRY_KEY] = stored;
    this.#write({ kind: 'set', key: EXPIRY_KEY, value: stored });
  }

  /** Seconds until the session expires [get_expiry_age]. */
  get expiryAge(): number {
    return expiryAge(this.#touch()[EXPIRY_KEY], this.#engine.maxAge, this.#engine.now());
  }

  /** When the session expires [get_expiry_date]. */
  get expiryDate(): Date {
    return new Date(expiresAt(this.#touch()[EXPIRY_KEY], this.#engine.maxAge, this.#engine.now()));
  }

  /** Whether the cookie lasts only until the browser closes [get_expire_at_browser_close]. */
  get expireAtBrowserClose(): boolean {
    return atBrowserClose(this.#touch()[EXPIRY_KEY], this.#engine.expireAtBrowserClose);
  }

  /** The data as a plain object (what `JSON.stringify(session)` writes). */
  toJSON(): SessionData {
    return { ...this.#s.data };
  }
}

export { engineOf, stateOf };
