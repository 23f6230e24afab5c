import {
  type AccountOptions,
  byLastSeen,
  capExpiry,
  clientOf,
  META_KEY,
  metaOf,
  type SessionMeta,
  toUserSession,
  userIdOf,
  type UserSession,
} from './accounts.js';
import { digestKey } from './keys.js';
import type { AnyStore, ClientSideStore, SessionStore, StoredSession, UpdateResult, UserIndexedStore } from './store.js';
import { checkValue, encodeData, ownData, withinDepth, MAX_DEPTH, type SessionData } from './codec.js';
import { cookieHeader, cookieParts, deletionCookie, readCookie, sessionCookie, type RequestLike, type SessionCookie } from './cookie.js';
import { CONTENTION_TEXT, ConfigError, SessionDataError, SessionError, SessionInterruptedError, StoreUnavailableError } from './errors.js';
import { cookieMaxAge, EXPIRY_KEY, expiresAt } from './expiry.js';
import { isWellFormedKey, newSessionKey } from './keys.js';
import type { Logger } from './log.js';
import type { MigratedSession } from './migrate.js';
import { resolveOptions, type ResolvedOptions, type SessionsOptions } from './options.js';
import {
  dirty,
  initialState,
  loaded,
  migrated,
  rebased,
  reset,
  saved,
  Session,
  stateOf,
  unresolved,
  type SessionEngine,
  type SessionState,
} from './session.js';

/** How many times a conflicting commit is merged and retried before SessionInterruptedError. */
export const MAX_COMMIT_ATTEMPTS = 100;
/** The most session keys whose last touch a process remembers (older ones are dropped first). */
const MAX_TOUCHES_KEPT = 10_000;
/** How many fresh keys are tried when a new key is already taken. */
const MAX_CREATE_ATTEMPTS = 100;
/** The longest pause, in milliseconds, between two attempts of a conflicting commit (backoff with full jitter). */
const MAX_BACKOFF_MS = 20;

/** The options of `commit` and `commitResponse`. */
export interface CommitOptions {
  /** The response status; 500 and above saves nothing. @default 200 */
  status?: number;
}

/**
 * What a response needs after a commit; an adapter (or your own glue for a framework sessionkit
 * has no adapter for) only translates it:
 * - `vary`: add `Cookie` to the response's `Vary` header (the session was read or written);
 * - `setCookie`: the whole `Set-Cookie` value to append, or null for none;
 * - `cookie`: the same cookie as `{ name, value, options }` for frameworks that take a cookie
 *   apart (SvelteKit's `event.cookies.set`, Next.js's `cookies().set`); `options` is in the
 *   style of the `cookie` package's `serialize` options. The value is already cookie-safe: give
 *   frameworks that encode by default an identity `encode` (`encode: (v) => v`).
 */
export interface CommitResponse {
  /** The whole Set-Cookie value to append after the application's own, or null for none. */
  setCookie: string | null;
  /** More Set-Cookie values to append after `setCookie`: a previous session system's cookie, expired (`migrate`); usually none. */
  expireCookies: readonly string[];
  /** The same cookie as `{ name, value, options }`, or null for none. */
  cookie: SessionCookie | null;
  /** Whether to add `Cookie` to the response's Vary header. */
  vary: boolean;
}

/**
 * The sessions of an application, made by `createSessions<Data>()`: loads and commits sessions
 * (the adapters do it for you), and finds, revokes and clears them.
 */
export interface Sessions<Data extends Record<string, any>> {
  /** The session of a request: loaded from the store when the request carries the cookie; no I/O otherwise. */
  load(req?: RequestLike): Promise<Session<Data>>;
  /** Saves what needs saving; returns the Set-Cookie value, or null when no header is due. */
  commit(session: Session<Data>, options?: CommitOptions): Promise<string | null>;
  /**
   * The framework-neutral commit, for people writing their own adapter: saves what needs saving
   * and says what the response needs (see CommitResponse). Call it once per request, after the
   * handler and before the response headers leave, with the response's status. It answers
   * synchronously when no store write is due (most requests), else with a Promise; `await` it
   * either way. It throws (or rejects with) a sessionkit error: answer it with
   * `sessionErrorResponse(err)` (400 or 503, or 500 for a bug).
   *
   * ```ts
   * const session = await sessions.load(request);
   * let response = await handler(request, session);
   * const { setCookie, vary } = await sessions.commitResponse(session, { status: response.status });
   * if (vary) response.headers.set('Vary', 'Cookie'); // merge with an existing Vary in real code
   * if (setCookie) response.headers.append('Set-Cookie', setCookie);
   * ```
   */
  commitResponse(session: Session<Data>, options?: CommitOptions): CommitResponse | Promise<CommitResponse>;
  /**
   * The user's live sessions (`session.login(userId)`), most recently seen first: one per device
   * or browser. Costs O(that user's sessions) on every server-side store; ConfigError on
   * CookieStore and DjangoStore, which cannot find sessions by user.
   */
  listUserSessions(userId: string): Promise<UserSession[]>;
  /** Ends the session with this public id (`session.id`) at once, everywhere; true when it existed. */
  revokeSession(id: string): Promise<boolean>;
  /** Ends every session of the user, but `except` (a Session or an id: "sign out everywhere else"); says how many. */
  revokeUserSessions(userId: string, options?: { except?: Session<Data> | string | null }): Promise<number>;
  /** Removes expired sessions and says how many [clearsessions]. */
  clearExpired(): Promise<number>;
  /** Releases the store. */
  close(): Promise<void>;
  /** The resolved cookie name, for adapters and tools. */
  readonly cookieName: string;
  /** The store in use. */
  readonly store: AnyStore;
  /** Where sessionkit and its adapters report what they survived (the `logger` option). */
  readonly logger: Logger;
}

function isStore(value: unknown): value is AnyStore {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.clientSide === true) return typeof v.seal === 'function' && typeof v.unseal === 'function';
  return ['load', 'create', 'update', 'delete', 'exists', 'clearExpired'].every((m) => typeof v[m] === 'function');
}

/**
 * The commits of one session key under way in this process: they run one after another (so 500
 * parallel requests of one visitor do not exhaust their retries against each other), each
 * starting from what the one before it wrote.
 */
interface InFlight {
  /** Settles when the last queued commit is done. */
  tail: Promise<void>;
  /** What the last successful commit wrote. */
  last: { json: string; version: number } | null;
}

const NO_COOKIES: readonly string[] = Object.freeze([]);

/** A commit's answer; `cookie` is worked out only when a framework asks for it. */
class Committed implements CommitResponse {
  readonly setCookie: string | null;
  readonly vary: boolean;
  readonly #expireCookies: readonly string[];
  readonly #parts: (() => SessionCookie) | null;
  constructor(setCookie: string | null, vary: boolean, parts: (() => SessionCookie) | null, expireCookies: readonly string[] = NO_COOKIES) {
    this.setCookie = setCookie;
    this.vary = vary;
    this.#parts = parts;
    this.#expireCookies = expireCookies;
  }
  get expireCookies(): readonly string[] {
    return this.#expireCookies;
  }
  get cookie(): SessionCookie | null {
    return this.#parts === null ? null : this.#parts();
  }
  toJSON(): CommitResponse {
    const json = { setCookie: this.setCookie, cookie: this.cookie, vary: this.vary };
    return (this.expireCookies.length === 0 ? json : { ...json, expireCookies: this.expireCookies }) as CommitResponse;
  }
}

const NOTHING: CommitResponse = Object.freeze(new Committed(null, false, null));
const VARY_ONLY: CommitResponse = Object.freeze(new Committed(null, true, null));

let loadNow: (sessions: Sessions<any>, req: RequestLike) => Session<any> | Promise<Session<any>>;

/**
 * `sessions.load(req)` for adapters: the Session at once when no store I/O is needed (no cookie,
 * cookie store), a Promise otherwise, so requests without a session cookie pay for no promise.
 */
export function loadForRequest<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  req: RequestLike,
): Session<Data> | Promise<Session<Data>> {
  return loadNow(sessions, req) as Session<Data> | Promise<Session<Data>>;
}

/** The Set-Cookie that re-sends the session's cookie with its current expiry, writing nothing (an expired cookie when it has no key). */
export function currentCookie(sessions: Sessions<any>, session: Session<any>): string {
  if (!(sessions instanceof Engine)) throw new ConfigError('sessions', 'expected the result of createSessions()');
  return sessions.currentCookie(session);
}

/** @internal createSessions without the default store (core imports no store). */
export function makeSessions<Data extends Record<string, any>>(
  options: SessionsOptions<AnyStore>,
  defaultStore: () => AnyStore,
): Sessions<Data> {
  const resolved = resolveOptions(options as SessionsOptions<unknown>);
  if (options.store !== undefined && !isStore(options.store)) {
    throw new ConfigError('store', 'expected a session store, e.g. new SqliteStore({ path }) or createStore(url)');
  }
  const store = options.store ?? defaultStore();
  checkAccountSupport(resolved.accounts, store);
  return new Engine<Data>(resolved, store);
}

class Engine<Data extends Record<string, any>> implements Sessions<Data>, SessionEngine {
  readonly #o: ResolvedOptions;
  readonly store: AnyStore;
  readonly #server: SessionStore | null;
  readonly #client: ClientSideStore | null;
  readonly maxAge: number;
  readonly expireAtBrowserClose: boolean;
  readonly cookieName: string;
  readonly logger: Logger;
  /** The store has a touch method but no user index to keep it for (a CachedStore over DjangoStore). */
  readonly #noTouch: boolean;
  /** When this process last touched each session key (within touchInterval), so a burst of parallel reads touches once. */
  readonly #touchedAt = new Map<string, number>();
  /** The store's synchronous twins of load and update, when it has them (see syncTwin). */
  readonly #loadSync: SessionStore['loadSync'];
  readonly #updateSync: SessionStore['updateSync'];
  /** Commits in progress per session key: commits of one key in this process run one after another. */
  readonly #inFlight = new Map<string, InFlight>();

  static {
    loadNow = (sessions, req) => (#load in sessions ? sessions.#load(req) : sessions.load(req));
  }

  constructor(o: ResolvedOptions, store: AnyStore) {
    this.#o = o;
    this.store = store;
    const client = (store as ClientSideStore).clientSide === true;
    this.#server = client ? null : (store as SessionStore);
    this.#loadSync = this.#server ? syncTwin(this.#server, 'load', 'loadSync') : undefined;
    this.#updateSync = this.#server ? syncTwin(this.#server, 'update', 'updateSync') : undefined;
    this.#client = client ? (store as ClientSideStore) : null;
    this.maxAge = o.cookie.maxAge;
    this.expireAtBrowserClose = o.expireAtBrowserClose;
    this.cookieName = o.cookie.name;
    this.#noTouch = Boolean((store as { noUserIndex?: string }).noUserIndex);
    this.logger = o.logger;
  }

  now(): number {
    return this.#o.clock();
  }

  #session(state: SessionState): Session<Data> {
    return new Session<Data>(this, state);
  }

  load(req?: RequestLike): Promise<Session<Data>> {
    const session = this.#load(req);
    return session instanceof Promise ? session : Promise.resolve(session);
  }

  /** `load`, answering synchronously when no store I/O is needed (no cookie, cookie store). */
  #load(req?: RequestLike): Session<Data> | Promise<Session<Data>> {
    const value = readCookie(cookieHeader(req), this.#o.cookie.name);
    const state = initialState(value !== undefined);
    state.request = req;
    // Django keeps a cookie value of 8+ characters as "not empty" until the session is looked at;
    // a shorter one is empty at once, so its cookie is deleted even when the view never touched it.
    if (value === undefined && this.#o.migrate !== null) return this.#migrate(state, req);
    if (value === undefined || value.length < 8) return this.#session(state);
    if (this.#client) {
      const found = this.#client.unseal(value, this.maxAge, this.now());
      if (found && this.#usable(found.data, 'CookieStore')) loaded(state, value, ownData(found.data), 0);
      else unresolved(state);
      return this.#session(state);
    }
    if (!isWellFormedKey(value)) {
      unresolved(state);
      return this.#session(state);
    }
    const store = this.#server!;
    const loadSync = this.#loadSync;
    if (loadSync !== undefined) {
      let found: StoredSession | null;
      try {
        found = loadSync(value, this.now());
      } catch (err) {
        rethrowUnavailable(err);
      }
      return this.#found(state, value, found);
    }
    return store.load(value, this.now()).then((found) => this.#found(state, value, found), rethrowUnavailable);
  }

  #found(state: SessionState, key: string, found: StoredSession | null): Session<Data> {
    if (found) {
      loaded(state, key, this.#ownData(found), found.version);
      state.lastSeenAt = found.lastSeenAt ?? null;
    } else unresolved(state);
    return this.#session(state);
  }

  /** A request without a sessionkit cookie: a previous system's session moved over, if it has one (`migrate`). */
  #migrate(state: SessionState, req: RequestLike): Session<Data> | Promise<Session<Data>> {
    const header = cookieHeader(req);
    if (header === undefined) return this.#session(state);
    const adopt = (found: MigratedSession | null) => {
      if (found !== null && this.#usable(found.data, 'migrate')) migrated(state, ownData(found.data), found);
      return this.#session(state);
    };
    let found: MigratedSession | null | Promise<MigratedSession | null>;
    try {
      found = this.#o.migrate!.load(header);
    } catch (err) {
      return Promise.reject(err).catch(rethrowUnavailable);
    }
    return found instanceof Promise ? found.then(adopt, rethrowUnavailable) : adopt(found);
  }

  /** Stored data as a session holds it; data nested too deeply reads as corrupt (empty), so later saves never fail on it. */
  #ownData(found: StoredSession): SessionData {
    return this.#usable(found.data, 'store') ? ownData(found.data) : ownData({});
  }

  #usable(data: SessionData, where: string): boolean {
    if (withinDepth(data)) return true;
    this.logger.warn(`session data nests deeper than ${MAX_DEPTH} levels; reading it as an empty session`, { where });
    return false;
  }

  async commit(session: Session<Data>, options?: CommitOptions): Promise<string | null> {
    return (await this.commitResponse(session, options)).setCookie;
  }

  commitResponse(session: Session<Data>, options?: CommitOptions): CommitResponse | Promise<CommitResponse> {
    const status = options?.status ?? 200;
    const s = stateOf(session);
    detectNestedChanges(s);
    if (s.hadCookie && session.isEmpty) {
      return new Committed(deletionCookie(this.#o.cookie), true, () => cookieParts(this.#o.cookie, '', 0, 0));
    }
    const vary = s.accessed;
    if (!(s.modified || this.#o.saveEveryRequest) || session.isEmpty || status >= 500) {
      const result = vary ? VARY_ONLY : NOTHING;
      return status < 500 && this.#touchDue(s) ? this.#touchSession(s).then(() => result) : result;
    }
    s.unresolvedCookie = false; // saved under a server-made key, never the client's
    if (s.migrated === null && this.#savedSync(s)) return this.#committed(s, vary);
    return this.#save(s).then(() => {
      const from = s.migrated;
      const result = this.#committed(s, vary, from?.expireCookies);
      if (from === null) return result;
      s.migrated = null;
      // The old record goes once the new one is saved; if that fails it is only left to expire.
      return from.saved().then(
        () => result,
        (err: unknown) => {
          this.logger.warn('could not remove the migrated session from the previous store', { error: String(err) });
          return result;
        },
      );
    });
  }

  /** @internal The Set-Cookie that re-sends the session's cookie with its current expiry, writing nothing; an expired cookie when it has no key (the React Router drop-in). */
  currentCookie(session: Session<Data>): string {
    const s = stateOf(session);
    return s.key === null ? deletionCookie(this.#o.cookie) : this.#committed(s, false).setCookie!;
  }

  #committed(s: SessionState, vary: boolean, expireCookies?: readonly string[]): CommitResponse {
    const now = this.now();
    const maxAge = cookieMaxAge(s.data[EXPIRY_KEY], this.maxAge, this.expireAtBrowserClose, now);
    const key = s.key!;
    const cookie = this.#o.cookie;
    return new Committed(sessionCookie(cookie, key, maxAge, now), vary, () => cookieParts(cookie, key, maxAge, now), expireCookies);
  }

  /**
   * The save of an existing session through the store's `updateSync`, when it has one and no
   * other commit of this key is in progress here: true when written. A conflict (a write from
   * another process) goes on in `#save`, which reloads, merges and retries.
   */
  #savedSync(s: SessionState): boolean {
    const updateSync = this.#updateSync;
    if (updateSync === undefined || s.key === null || this.#inFlight.has(s.key)) return false;
    const now = this.now();
    const json = this.#checkSize(s.data);
    const until = this.#expiry(s.data, now);
    let result: UpdateResult;
    try {
      result = updateSync(s.key, s.data, until, s.version, now, json);
    } catch (err) {
      rethrowUnavailable(err);
    }
    if (result.status === 'ok') {
      saved(s, s.key, result.version);
      return true;
    }
    if (result.status === 'missing') throw new SessionInterruptedError();
    return false;
  }

  async #save(s: SessionState): Promise<void> {
    const now = this.now();
    if (this.#client) {
      saved(s, this.#client.seal(s.data, now), 0);
      return;
    }
    if (s.key === null) return this.#create(s, now);
    const key = s.key;
    let flight = this.#inFlight.get(key);
    let run: Promise<void>;
    if (flight === undefined) {
      flight = { tail: null as unknown as Promise<void>, last: null };
      run = this.#update(s, key, now, flight);
    } else {
      const f = flight;
      run = f.tail.then(() => {
        // The commit before this one wrote the record: start from what it wrote, without a failed write and a reload.
        if (f.last !== null && f.last.version !== s.version) rebased(s, ownData(JSON.parse(f.last.json)), f.last.version);
        return this.#update(s, key, this.now(), f);
      });
    }
    const tail = run.then(noop, noop);
    flight.tail = tail;
    this.#inFlight.set(key, flight);
    try {
      await run;
    } finally {
      if (this.#inFlight.get(key)?.tail === tail) this.#inFlight.delete(key);
    }
  }

  /** Conditional update; on a conflict, this request's changes are replayed on the fresh record and retried. */
  async #update(s: SessionState, key: string, now: number, flight: InFlight): Promise<void> {
    const store = this.#server!;
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      const json = this.#checkSize(s.data);
      const until = this.#expiry(s.data, now);
      const result = await store.update(key, s.data, until, s.version, now, json).catch(rethrowUnavailable);
      if (result.status === 'ok') {
        flight.last = { json, version: result.version };
        return saved(s, key, result.version);
      }
      if (result.status === 'missing') throw new SessionInterruptedError();
      // Someone else wrote first: take their record and put this request's own changes on top.
      // Past the first retry, wait a random while, so that processes writing together spread out.
      if (attempt > 0) await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
      const fresh = await store.load(key, now).catch(rethrowUnavailable);
      if (!fresh) throw new SessionInterruptedError();
      rebased(s, this.#ownData(fresh), fresh.version);
    }
    this.logger.error('gave up a commit after conflicting writes', { attempts: MAX_COMMIT_ATTEMPTS });
    throw new SessionInterruptedError(
      `sessionkit: the session kept changing in parallel requests while this request was handled; gave up merging after ${MAX_COMMIT_ATTEMPTS} conflicting writes in a row, so this request's changes were not saved (the session itself is intact)`,
      { responseText: CONTENTION_TEXT },
    );
  }

  /** Refuses, before any write, data over `maxSize`; gives the data's JSON. */
  #checkSize(data: SessionData): string {
    const max = this.#o.maxSize;
    const json = encodeData(data);
    if (json.length * 3 > max) {
      const size = byteLength(json);
      if (size > max) {
        throw new SessionDataError(
          `the session's data is ${size} bytes encoded, over maxSize (${max} bytes); store less in the session, or raise the maxSize option of createSessions`,
        );
      }
    }
    return json;
  }

  /** The expiry instant to store. */
  #expiry(data: SessionData, now: number): number {
    return capExpiry(expiresAt(data[EXPIRY_KEY], this.maxAge, now), data, now, this.#o.accounts);
  }

  async #create(s: SessionState, now: number): Promise<void> {
    const store = this.#server!;
    if (this.#o.accounts.absoluteTimeout !== null && metaOf(s.data) === null) {
      // the absolute timeout of a session never signed in runs from its creation
      const meta: SessionMeta = { since: now };
      s.data[META_KEY] = meta;
      (s.ops ??= []).push({ kind: 'set', key: META_KEY, value: meta });
    }
    const json = this.#checkSize(s.data);
    const until = this.#expiry(s.data, now);
    for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
      const key = newSessionKey();
      const version = await store.create(key, s.data, until, now, json).catch(rethrowUnavailable);
      if (version !== null) return saved(s, key, version);
    }
    throw new StoreUnavailableError(
      `could not create a new session key after ${MAX_CREATE_ATTEMPTS} attempts; the store refuses every new key`,
    );
  }

  async flush(s: SessionState): Promise<void> {
    const old = s.key;
    reset(s);
    if (old !== null && this.#server) await this.#server.delete(old).catch(rethrowUnavailable);
  }

  async cycleKey(s: SessionState): Promise<void> {
    dirty(s);
    if (this.#client) return; // the cookie is re-signed at commit; old cookies cannot be revoked
    detectNestedChanges(s);
    const old = s.key;
    await this.#create(s, this.now());
    dirty(s); // the new key still has to reach the browser
    if (old !== null) await this.#server!.delete(old).catch(rethrowUnavailable);
  }

  // Accounts and devices (core/accounts.ts).

  signIn(s: SessionState, userId: string): SessionMeta {
    return { since: this.now(), user: userId, ...clientOf(s.request, this.#o.accounts.trustProxy) };
  }

  async signedIn(s: SessionState, userId: string): Promise<void> {
    const max = this.#o.accounts.maxSessionsPerUser;
    if (max === null || s.key === null) return;
    const current = digestKey(s.key);
    const others = (await this.listUserSessions(userId)).filter((u) => u.id !== current);
    for (const old of others.slice(max - 1)) await this.revokeSession(old.id); // least recently seen last
  }

  publicId(s: SessionState): string | null {
    return s.key === null || this.#client ? null : digestKey(s.key);
  }

  /** Whether this unmodified request should refresh the stored expiry and last-seen time. */
  #touchDue(s: SessionState): boolean {
    if (s.key === null || s.lastSeenAt === null || this.#server?.touch === undefined || this.#noTouch) return false;
    const interval = this.#o.accounts.touchInterval * 1000;
    const now = this.now();
    if (now - s.lastSeenAt < interval) return false;
    // Parallel requests loaded the same last-seen time: the first one touches for all of them.
    const recent = this.#touchedAt.get(s.key);
    return recent === undefined || now - recent >= interval;
  }

  /** A touch that fails is logged, not answered: the request itself succeeded. */
  async #touchSession(s: SessionState): Promise<void> {
    const now = this.now();
    const until = capExpiry(expiresAt(s.data[EXPIRY_KEY], this.maxAge, now), s.data, now, this.#o.accounts);
    s.lastSeenAt = now;
    const touched = this.#touchedAt;
    if (touched.size >= MAX_TOUCHES_KEPT) {
      const interval = this.#o.accounts.touchInterval * 1000;
      for (const [key, at] of touched) if (now - at >= interval || touched.size >= MAX_TOUCHES_KEPT) touched.delete(key);
    }
    touched.set(s.key!, now);
    try {
      await this.#server!.touch!(s.key!, until, now, userIdOf(s.data));
    } catch (err) {
      this.logger.warn('could not refresh the session expiry (touch)', { error: String((err as Error)?.message ?? err) });
    }
  }

  #indexed(what: string): UserIndexedStore {
    const store = this.store as Partial<UserIndexedStore> & { noUserIndex?: string };
    if (store.listByUser && store.revoke && store.touch && !store.noUserIndex) return store as UserIndexedStore;
    throw new ConfigError(
      'store',
      `${what}: ${store.noUserIndex ?? 'this store cannot find sessions by user (it has no listByUser, revoke and touch)'}`,
    );
  }

  async listUserSessions(userId: string): Promise<UserSession[]> {
    const store = this.#indexed('listUserSessions');
    if (typeof userId !== 'string' || userId === '') return [];
    const found = await store.listByUser(userId, this.now()).catch(rethrowUnavailable);
    return found
      .filter((f) => metaOf(f.data)?.user === userId)
      .map((f) => toUserSession(f, userId))
      .sort(byLastSeen);
  }

  async revokeSession(id: string): Promise<boolean> {
    const store = this.#indexed('revokeSession');
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) return false;
    return store.revoke(id).catch(rethrowUnavailable);
  }

  async revokeUserSessions(userId: string, options: { except?: Session<Data> | string | null } = {}): Promise<number> {
    const except = options.except instanceof Session ? options.except.id : (options.except ?? null);
    let revoked = 0;
    for (const u of await this.listUserSessions(userId)) {
      if (u.id !== except && (await this.revokeSession(u.id))) revoked++;
    }
    return revoked;
  }

  async clearExpired(): Promise<number> {
    return this.store.clearExpired(this.now()).catch(rethrowUnavailable);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** Options that need a user index or a server-side expiry: refused at createSessions on a store that has none. */
function checkAccountSupport(o: AccountOptions, store: AnyStore): void {
  const s = store as Partial<UserIndexedStore> & { noUserIndex?: string; clientSide?: boolean };
  const indexed = s.listByUser !== undefined && s.revoke !== undefined && s.touch !== undefined && !s.noUserIndex;
  const why = s.noUserIndex ?? 'this store cannot find sessions by user (it has no listByUser, revoke and touch)';
  if (o.idleTimeout !== null && !indexed)
    throw new ConfigError(
      'idleTimeout',
      `${why}; drop idleTimeout, or use a store that keeps sessions on the server (SqliteStore, RedisStore, PostgresStore)`,
    );
  if (o.maxSessionsPerUser !== null && !indexed)
    throw new ConfigError('maxSessionsPerUser', `${why}; drop maxSessionsPerUser, or use SqliteStore, RedisStore or PostgresStore`);
  if (o.absoluteTimeout !== null && s.clientSide === true)
    throw new ConfigError('absoluteTimeout', `${why}; drop absoluteTimeout, or use a store that keeps sessions on the server`);
}

/** Values handed out by reads and changed in place (`get('cart').push(x)`) are saved too. */
function detectNestedChanges(s: SessionState): void {
  if (s.snapshots === null) return;
  for (const [key, before] of s.snapshots) {
    const value = Object.hasOwn(s.data, key) ? s.data[key] : undefined;
    if (value !== undefined) checkValue(key, value);
    if (JSON.stringify(value) !== before) {
      s.modified = true;
      (s.ops ??= []).push(value === undefined ? { kind: 'delete', key } : { kind: 'set', key, value });
    }
  }
  s.snapshots = null;
}

/**
 * The store's synchronous twin of an async method, bound; used only beside the very method it
 * mirrors, so a subclass or a wrapper (a Proxy that counts, fails or logs `load` or `update`)
 * that replaces the async method is still heard.
 */
function syncTwin<K extends 'loadSync' | 'updateSync'>(store: SessionStore, name: 'load' | 'update', twin: K): SessionStore[K] {
  const fn = store[twin];
  if (typeof fn !== 'function') return undefined;
  const owner = ownerOf(store, twin) as Record<string, unknown> | null;
  if (owner === null || store[name] !== owner[name]) return undefined;
  return fn.bind(store) as SessionStore[K];
}

function ownerOf(object: object, name: string): object | null {
  for (let o: object | null = object; o !== null; o = Object.getPrototypeOf(o)) if (Object.hasOwn(o, name)) return o;
  return null;
}

function rethrowUnavailable(err: unknown): never {
  if (err instanceof SessionError) throw err;
  throw new StoreUnavailableError(`the session store failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

function noop(): void {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const encoder = new TextEncoder();
/** UTF-8 length, without node's Buffer. */
function byteLength(text: string): number {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}
