import { checkUserId, CSRF_KEY, META_KEY, type SessionMeta, userIdOf } from './accounts.js';
import { maskCsrfSecret, newCsrfSecret } from './csrf-token.js';
import { authenticatedAtOf, isDeviceBound, withinSeconds } from './device-bound.js';
import { checkValue, emptyData, type SessionData } from './codec.js';
import { SessionKeyError } from './errors.js';
import type { Op, SessionState } from './session-state.js';

export type { Op, SessionState } from './session-state.js';
export {
  FLASH_KEY,
  replay,
  clearSiteDataAsked,
  initialState,
  loaded,
  migrated,
  unresolved,
  saved,
  rebased,
  reset,
  lost,
  dirty,
} from './session-state.js';
import { clearSiteDataAsked, FLASH_KEY, replay } from './session-state.js';
import { atBrowserClose, EXPIRY_KEY, expiresAt, expiryAge, expiryValue } from './expiry.js';

/** What the engine (sessions.ts) needs of a session; not part of the public API. */
export interface SessionEngine {
  /** The default age in seconds (cookie.maxAge). */
  readonly maxAge: number;
  readonly expireAtBrowserClose: boolean;
  now(): number;
  flush(state: SessionState): Promise<void>;
  cycleKey(state: SessionState): Promise<void>;
  /** Writes now what this request changed (the commit's merge), or creates the session. */
  save(state: SessionState): Promise<void>;
  /** Accounts and devices: the record `login` keeps (who, when, from where). */
  signIn(state: SessionState, userId: string): SessionMeta;
  /** After `login` saved the session under its new key (maxSessionsPerUser). */
  signedIn(state: SessionState, userId: string): Promise<void>;
  /** The public id of the saved session, or null. */
  publicId(state: SessionState): string | null;
  /** createSessions' `trustProxy` (csrfProtection reads the request's own origin with it). */
  readonly trustProxy?: boolean | number;
}

type Key<D> = keyof D & string;

/** Where a Session keeps its state, for the engine (the symbol is never exported from the package). */
const STATE: unique symbol = Symbol('sessionkit.state');

/** The state of a Session, or of the Session behind a view of it (sessionkit/express's `req.session`). */
export function stateOf(session: Session<any>): SessionState {
  const target = (session as { [SESSION_OF]?: Session<any> })[SESSION_OF] ?? session;
  return target[STATE];
}

/** Where a Session keeps its engine (for csrfProtection's `trustProxy`). */
const ENGINE: unique symbol = Symbol('sessionkit.engine');

/** The engine of a Session, or of the Session behind a view of it. */
export function engineOf(session: Session<any>): SessionEngine {
  const target = (session as { [SESSION_OF]?: Session<any> })[SESSION_OF] ?? session;
  return target[ENGINE];
}

/** A view of a Session (sessionkit/express's `req.session`, a Proxy) answers this key with the Session itself. */
export const SESSION_OF: unique symbol = Symbol('sessionkit.sessionOf');

/**
 * One visitor's session during one request: Django's `request.session`, typed by `Data`.
 * Loaded before the handler runs (when the request carried a cookie); saved by the adapter's commit.
 */
export class Session<Data extends Record<string, any> = Record<string, any>> {
  readonly #s: SessionState;
  readonly #engine: SessionEngine;

  /** @internal The engine's handle on this session's state (see stateOf). */
  readonly [STATE]: SessionState;
  /** @internal The session's engine (see engineOf). */
  readonly [ENGINE]: SessionEngine;

  /** @internal Sessions are made by `sessions.load()`. */
  constructor(engine: SessionEngine, state: SessionState) {
    this.#engine = engine;
    this.#s = state;
    this[STATE] = state;
    this[ENGINE] = engine;
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
    let data = this.#touch();
    const current = userIdOf(data);
    if (current !== null && current !== id) {
      // Django's login() flushes a session bound to another user: nothing of theirs is kept.
      this.clear();
      data = this.#s.data;
    }
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

  /**
   * Writes now what this request changed, merged with what parallel requests wrote meanwhile (the
   * commit's merge), and reads the stored record back: after `await session.save()`, `get`
   * answers what the store holds, so a limit on a counter is exact under parallel requests
   * (`modify` then `save` then `get`). A session without a key is created (the response then
   * carries its cookie) [save].
   */
  async save(): Promise<void> {
    this.#touch();
    await this.#engine.save(this.#s);
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
   * Whether the session is bound to a key on the visitor's device (`deviceBound`): the browser
   * registered one after `login`, so a copy of the session cookie is useless elsewhere.
   */
  get deviceBound(): boolean {
    return isDeviceBound(this.#touch());
  }

  /**
   * When the visitor last proved who they are: the last `login` (a second `login` of the same
   * user, after asking for the password again, renews it; `cycleKey` does not). Null until `login`.
   */
  get authenticatedAt(): Date | null {
    const at = authenticatedAtOf(this.#touch());
    return at === null ? null : new Date(at);
  }

  /**
   * Whether the last `login` was at most `seconds` ago (false for a session never signed in):
   * `if (!session.authenticatedWithin(300)) ask for the password again`.
   */
  authenticatedWithin(seconds: number): boolean {
    const at = authenticatedAtOf(this.#touch());
    return withinSeconds(at, seconds, this.#engine.now());
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
