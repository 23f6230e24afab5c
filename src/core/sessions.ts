// createSessions' engine, as a facade: it holds the shared state (engine/core.ts) and hands each
// call to the part that does it: loading (engine/load.ts), the commit decision (engine/commit.ts),
// the writer (engine/writer.ts, engine/rotate.ts), touches (engine/touch.ts) and accounts
// (engine/account-service.ts).
import type { SessionMeta, UserSession } from './accounts.js';
import type { RequestLike } from './cookie.js';
import { DeviceBound, deviceBoundUnsupported } from './device-bound.js';
import {
  checkAccountSupport,
  listUserSessions,
  publicId,
  revokeSession,
  revokeUserSessions,
  signedIn,
  signIn,
} from './engine/account-service.js';
import { commitNow, committedFor } from './engine/commit.js';
import { deletionCookie } from './cookie.js';
import type { CommitOptions, CommitResponse } from './engine/committed.js';
import { type Core, rethrowUnavailable, syncTwins } from './engine/core.js';
import { loadObserved } from './engine/load.js';
import { cycleKey, flush } from './engine/rotate.js';
import { saveNow } from './engine/writer.js';
import { ConfigError } from './errors.js';
import type { Logger } from './log.js';
import { observe } from './observe.js';
import { resolveOptions, type ResolvedOptions, type SessionsOptions } from './options.js';
import { Session, type SessionEngine, type SessionState, stateOf } from './session.js';
import { type AnyStore, capabilitiesOf, type ClientSideStore, type SessionStore } from './store.js';

export type { CommitOptions, CommitResponse } from './engine/committed.js';
export { MAX_COMMIT_ATTEMPTS } from './engine/core.js';

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
   * // and cacheControl (unless the response has its own Cache-Control) and clearSiteData, when not null
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

/** Where an engine keeps its shared state, for the functions of this module (never exported from the package). */
const CORE = Symbol('sessionkit.core');

/** The engine's shared state, when `sessions` is one of ours (a wrapper made by the application is not). */
function coreOf(sessions: Sessions<any>): Core | undefined {
  return (sessions as { [CORE]?: Core })[CORE];
}

/** @internal The device binding of `sessions` (`deviceBound`), or null: for the endpoints' handler. */
export function deviceBoundOf(sessions: Sessions<any>): DeviceBound | null {
  return coreOf(sessions)?.bound ?? null;
}

/**
 * `sessions.load(req)` for adapters: the Session at once when no store I/O is needed (no cookie,
 * cookie store), a Promise otherwise, so requests without a session cookie pay for no promise.
 */
export function loadForRequest<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  req: RequestLike,
): Session<Data> | Promise<Session<Data>> {
  const core = coreOf(sessions);
  return (core === undefined ? sessions.load(req) : loadObserved(core, req)) as Session<Data> | Promise<Session<Data>>;
}

/** The Set-Cookie that re-sends the session's cookie with its current expiry, writing nothing (an expired cookie when it has no key). */
export function currentCookie(sessions: Sessions<any>, session: Session<any>): string {
  const core = coreOf(sessions);
  if (core === undefined) throw new ConfigError('sessions', 'expected the result of createSessions()');
  const s = stateOf(session);
  return s.key === null ? deletionCookie(core.o.cookie) : committedFor(core, s, false).setCookie!;
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
  const noBinding = resolved.deviceBound === null ? null : deviceBoundUnsupported(store as { clientSide?: boolean });
  if (noBinding !== null) throw new ConfigError('deviceBound', noBinding);
  return new Engine<Data>(resolved, store);
}

class Engine<Data extends Record<string, any>> implements Sessions<Data>, SessionEngine {
  readonly [CORE]: Core;
  readonly store: AnyStore;
  readonly maxAge: number;
  readonly expireAtBrowserClose: boolean;
  readonly cookieName: string;
  readonly logger: Logger;

  constructor(o: ResolvedOptions, store: AnyStore) {
    this.store = store;
    this.maxAge = o.cookie.maxAge;
    this.expireAtBrowserClose = o.expireAtBrowserClose;
    this.cookieName = o.cookie.name;
    this.logger = o.logger;
    const clientSide = (store as ClientSideStore).clientSide === true;
    const can = capabilitiesOf(store);
    const obs = observe(this, o, store);
    const server = clientSide ? null : (obs?.store(store as SessionStore) ?? (store as SessionStore));
    const { loadSync, updateSync } = server ? syncTwins(server) : { loadSync: undefined, updateSync: undefined };
    this[CORE] = {
      o,
      store,
      server,
      client: clientSide ? (store as ClientSideStore) : null,
      maxAge: o.cookie.maxAge,
      expireAtBrowserClose: o.expireAtBrowserClose,
      logger: o.logger,
      noTouch: can.userIndex !== true,
      touchedAt: new Map(),
      loadSync,
      updateSync,
      inFlight: new Map(),
      keysInClear: can.keysInClear,
      obs,
      bound: o.deviceBound === null ? null : new DeviceBound(o.deviceBound, o.cookie, o.accounts.trustProxy, o.logger, o.clock),
      now: o.clock,
      session: (state) => new Session<Data>(this, state),
    };
  }

  now(): number {
    return this[CORE].o.clock();
  }

  /** The `trustProxy` option (csrfProtection reads the request's own origin with it). */
  get trustProxy(): boolean | number {
    return this[CORE].o.accounts.trustProxy;
  }

  load(req?: RequestLike): Promise<Session<Data>> {
    const session = loadObserved(this[CORE], req) as Session<Data> | Promise<Session<Data>>;
    return session instanceof Promise ? session : Promise.resolve(session);
  }

  async commit(session: Session<Data>, options?: CommitOptions): Promise<string | null> {
    return (await this.commitResponse(session, options)).setCookie;
  }

  commitResponse(session: Session<Data>, options?: CommitOptions): CommitResponse | Promise<CommitResponse> {
    const c = this[CORE];
    const obs = c.obs;
    return obs === null || !obs.commits ? commitNow(c, session, options) : obs.commit(session, () => commitNow(c, session, options));
  }

  flush(s: SessionState): Promise<void> {
    return flush(this[CORE], s);
  }

  cycleKey(s: SessionState): Promise<void> {
    return cycleKey(this[CORE], s);
  }

  save(s: SessionState): Promise<void> {
    return saveNow(this[CORE], s);
  }

  signIn(s: SessionState, userId: string): SessionMeta {
    return signIn(this[CORE], s, userId);
  }

  signedIn(s: SessionState, userId: string): Promise<void> {
    return signedIn(this[CORE], s, userId);
  }

  publicId(s: SessionState): string | null {
    return publicId(this[CORE], s);
  }

  listUserSessions(userId: string): Promise<UserSession[]> {
    return listUserSessions(this[CORE], userId);
  }

  revokeSession(id: string, userId: string | null = null): Promise<boolean> {
    return revokeSession(this[CORE], id, userId);
  }

  revokeUserSessions(userId: string, options: { except?: Session<Data> | string | null } = {}): Promise<number> {
    return revokeUserSessions(this[CORE], userId, options);
  }

  async clearExpired(): Promise<number> {
    return this.store.clearExpired(this.now()).catch(rethrowUnavailable);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
