import type { AnyStore, ClientSideStore, SessionStore } from './store.js';
import { checkValue, type SessionData } from './codec.js';
import { cookieHeader, deletionCookie, readCookie, sessionCookie, type RequestLike } from './cookie.js';
import { ConfigError, SessionError, SessionInterruptedError, StoreUnavailableError } from './errors.js';
import { isWellFormedKey, newSessionKey } from './keys.js';
import { resolveOptions, type ResolvedOptions, type SessionsOptions } from './options.js';
import { EXPIRY_KEY, expiresAt, expiryAge, replay, Session, stateOf, type SessionEngine, type SessionState } from './session.js';

/** How many times a conflicting commit is merged and retried before SessionInterruptedError. */
export const MAX_COMMIT_ATTEMPTS = 100;
/** How many fresh keys are tried when a new key is already taken. */
const MAX_CREATE_ATTEMPTS = 100;

export interface CommitOptions {
  /** The response status; 500 and above saves nothing. @default 200 */
  status?: number;
}

/** What an adapter does to the response after a commit. */
export interface CommitResult {
  /** The Set-Cookie value, or null for no header. */
  setCookie: string | null;
  /** Whether to add `Vary: Cookie`. */
  vary: boolean;
}

export interface Sessions<Data extends Record<string, any>> {
  /** The session of a request: loaded from the store when the request carries the cookie; no I/O otherwise. */
  load(req?: RequestLike): Promise<Session<Data>>;
  /** Saves what needs saving; returns the Set-Cookie value, or null when no header is due. */
  commit(session: Session<Data>, options?: CommitOptions): Promise<string | null>;
  /** Removes expired sessions and says how many [clearsessions]. */
  clearExpired(): Promise<number>;
  /** Releases the store. */
  close(): Promise<void>;
  /** The resolved cookie name, for adapters and tools. */
  readonly cookieName: string;
  /** The store in use. */
  readonly store: AnyStore;
}

function isStore(value: unknown): value is AnyStore {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.clientSide === true) return typeof v.seal === 'function' && typeof v.unseal === 'function';
  return ['load', 'create', 'update', 'delete', 'exists', 'clearExpired'].every((m) => typeof v[m] === 'function');
}

const NOTHING: CommitResult = Object.freeze({ setCookie: null, vary: false });
const VARY_ONLY: CommitResult = Object.freeze({ setCookie: null, vary: true });

/** @internal The adapters' commit: see Engine.commitResult. */
export function commitForResponse<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  status: number,
): CommitResult | Promise<CommitResult> {
  return (sessions as Engine<Data>).commitResult(session, status);
}

/** @internal The adapters' load: a Session at once when no store I/O is needed, else a Promise. */
export function loadForRequest<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  req: RequestLike,
): Session<Data> | Promise<Session<Data>> {
  return (sessions as Engine<Data>).loadNow(req);
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

  constructor(o: ResolvedOptions, store: AnyStore) {
    this.#o = o;
    this.store = store;
    const client = (store as ClientSideStore).clientSide === true;
    this.#server = client ? null : (store as SessionStore);
    this.#client = client ? (store as ClientSideStore) : null;
    this.maxAge = o.cookie.maxAge;
    this.expireAtBrowserClose = o.expireAtBrowserClose;
    this.cookieName = o.cookie.name;
  }

  now(): number {
    return this.#o.clock();
  }

  #session(state: SessionState): Session<Data> {
    return new Session<Data>(this, state);
  }

  load(req?: RequestLike): Promise<Session<Data>> {
    const session = this.loadNow(req);
    return session instanceof Promise ? session : Promise.resolve(session);
  }

  /** @internal `load`, answering synchronously when no store I/O is needed (no cookie, cookie store). */
  loadNow(req?: RequestLike): Session<Data> | Promise<Session<Data>> {
    const value = readCookie(cookieHeader(req), this.#o.cookie.name);
    const state: SessionState = {
      data: {},
      key: null,
      version: 0,
      ops: null,
      snapshots: null,
      accessed: false,
      modified: false,
      hadCookie: value !== undefined,
      unresolvedCookie: false,
    };
    // Django keeps a cookie value of 8+ characters as "not empty" until the session is looked at;
    // a shorter one is empty at once, so its cookie is deleted even when the view never touched it.
    if (value === undefined || value.length < 8) return this.#session(state);
    if (this.#client) {
      const found = this.#client.unseal(value, this.maxAge, this.now());
      if (found) {
        state.data = found.data;
        state.key = value;
      } else state.unresolvedCookie = true;
      return this.#session(state);
    }
    if (!isWellFormedKey(value)) {
      state.unresolvedCookie = true;
      return this.#session(state);
    }
    return this.#server!.load(value, this.now()).then((found) => {
      if (found) {
        state.data = found.data;
        state.key = value;
        state.version = found.version;
      } else state.unresolvedCookie = true;
      return this.#session(state);
    }, rethrowUnavailable);
  }

  async commit(session: Session<Data>, options?: CommitOptions): Promise<string | null> {
    return (await this.commitResult(session, options?.status ?? 200)).setCookie;
  }

  /**
   * @internal What adapters call: the Set-Cookie value and whether to vary on Cookie. Answers
   * synchronously when no store write is due, so untouched requests pay for no promise.
   */
  commitResult(session: Session<Data>, status: number): CommitResult | Promise<CommitResult> {
    const s = stateOf(session);
    detectNestedChanges(s);
    if (s.hadCookie && session.isEmpty) {
      return { setCookie: deletionCookie(this.#o.cookie), vary: true };
    }
    const vary = s.accessed;
    if (!(s.modified || this.#o.saveEveryRequest) || session.isEmpty || status >= 500) {
      return vary ? VARY_ONLY : NOTHING;
    }
    s.unresolvedCookie = false; // saved under a server-made key, never the client's
    return this.#save(s).then(() => {
      const now = this.now();
      const atClose = this.#atBrowserClose(s.data);
      const maxAge = atClose ? undefined : Math.max(0, expiryAge(s.data[EXPIRY_KEY], this.maxAge, now));
      return { setCookie: sessionCookie(this.#o.cookie, s.key!, maxAge, now), vary };
    });
  }

  #atBrowserClose(data: SessionData): boolean {
    const expiry = data[EXPIRY_KEY];
    return expiry === undefined || expiry === null ? this.expireAtBrowserClose : expiry === 0;
  }

  async #save(s: SessionState): Promise<void> {
    const now = this.now();
    if (this.#client) {
      s.key = this.#client.seal(s.data, now);
      s.ops = null;
      s.modified = false;
      return;
    }
    const store = this.#server!;
    if (s.key === null) return this.#create(s, now);
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      const until = expiresAt(s.data[EXPIRY_KEY], this.maxAge, now);
      const result = await store.update(s.key, s.data, until, s.version, now).catch(rethrowUnavailable);
      if (result.status === 'ok') {
        s.version = result.version;
        s.ops = null;
        s.snapshots = null;
        s.modified = false;
        return;
      }
      if (result.status === 'missing') throw new SessionInterruptedError();
      // Someone else wrote first: take their record and put this request's own changes on top.
      const fresh = await store.load(s.key, now).catch(rethrowUnavailable);
      if (!fresh) throw new SessionInterruptedError();
      s.data = replay(fresh.data, s.ops ?? []);
      s.version = fresh.version;
    }
    this.#o.logger.error('gave up a commit after conflicting writes', { attempts: MAX_COMMIT_ATTEMPTS });
    throw new SessionInterruptedError(
      `sessionkit: the session kept changing under this request; gave up after ${MAX_COMMIT_ATTEMPTS} attempts`,
    );
  }

  async #create(s: SessionState, now: number): Promise<void> {
    const store = this.#server!;
    const until = expiresAt(s.data[EXPIRY_KEY], this.maxAge, now);
    for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
      const key = newSessionKey();
      const version = await store.create(key, s.data, until, now).catch(rethrowUnavailable);
      if (version !== null) {
        s.key = key;
        s.version = version;
        s.ops = null;
        s.snapshots = null;
        s.modified = false;
        return;
      }
    }
    throw new StoreUnavailableError(
      `could not create a new session key after ${MAX_CREATE_ATTEMPTS} attempts; the store refuses every new key`,
    );
  }

  async flush(s: SessionState): Promise<void> {
    const old = s.key;
    s.data = {};
    s.ops = null;
    s.snapshots = null;
    s.key = null;
    s.version = 0;
    s.unresolvedCookie = false;
    s.modified = true;
    if (old !== null && this.#server) await this.#server.delete(old).catch(rethrowUnavailable);
  }

  async cycleKey(s: SessionState): Promise<void> {
    s.modified = true;
    s.unresolvedCookie = false;
    if (this.#client) return; // the cookie is re-signed at commit; old cookies cannot be revoked
    detectNestedChanges(s);
    const old = s.key;
    await this.#create(s, this.now());
    s.modified = true;
    if (old !== null) await this.#server!.delete(old).catch(rethrowUnavailable);
  }

  async clearExpired(): Promise<number> {
    return this.store.clearExpired(this.now()).catch(rethrowUnavailable);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** Values handed out by reads and changed in place (`get('cart').push(x)`) are saved too. */
function detectNestedChanges(s: SessionState): void {
  if (s.snapshots === null) return;
  for (const [key, before] of s.snapshots) {
    const value = s.data[key];
    if (value !== undefined) checkValue(key, value);
    if (JSON.stringify(value) !== before) {
      s.modified = true;
      (s.ops ??= []).push(value === undefined ? { kind: 'delete', key } : { kind: 'set', key, value });
    }
  }
  s.snapshots = null;
}

function rethrowUnavailable(err: unknown): never {
  if (err instanceof SessionError) throw err;
  throw new StoreUnavailableError(`the session store failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
