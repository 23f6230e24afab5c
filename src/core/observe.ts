// What the engine tells the outside world: session events (`onEvent`, events.ts) and
// OpenTelemetry spans and metrics (telemetry.ts). The engine calls one method of `Observer` at
// each point where something happens; without `onEvent` and without `@opentelemetry/api`
// installed there is no Observer at all, and the engine runs as if this file did not exist.
import { metaOf, userIdOf } from './accounts.js';
import type { SessionData } from './codec.js';
import { cookieHeader, readCookie, type RequestLike } from './cookie.js';
import { SessionError, SessionInterruptedError, StoreUnavailableError } from './errors.js';
import { EventSink, registerSink, type SessionEventHandler } from './events.js';
import { digestKey, isWellFormedKey } from './keys.js';
import type { Logger } from './log.js';
import { type Session, type SessionState, stateOf } from './session.js';
import type { AnyStore, SessionStore } from './store.js';
import { endSpan, failSpan, type Instruments, instruments, type OtelSpan, otelApi } from './telemetry.js';
import { watchStore } from './observe-store.js';

/** What `observe` needs of the resolved options. */
export interface ObserveOptions {
  onEvent: SessionEventHandler | null;
  clock: () => number;
  logger: Logger;
  cookie: { name: string };
}

/** The commit answer, as far as the commit span looks at it. */
interface Answer {
  setCookie: string | null;
}

/**
 * The Observer of one `createSessions`, or null when nothing can be observed: no `onEvent` and
 * no `@opentelemetry/api` installed (then the engine pays for nothing).
 */
export function observe(sessions: object, o: ObserveOptions, store: AnyStore): Observer | null {
  const otel = otelApi();
  if (o.onEvent === null && otel === null) return null;
  const events = o.onEvent === null ? null : new EventSink(o.onEvent, o.clock, o.logger);
  if (events !== null) registerSink(sessions, events);
  return new Observer(events, () => instruments(otel), store, o);
}

export class Observer {
  readonly events: EventSink | null;
  readonly #store: AnyStore;
  readonly #client: boolean;
  readonly #storeName: string;
  readonly #cookieName: string;
  readonly #logger: Logger;
  readonly #resolve: () => Instruments;
  #instruments: Instruments | null = null;
  /** Sessions in the middle of `login` (between signIn and signedIn): their key change is a login, not a renewal. */
  readonly #signingIn = new WeakMap<SessionState, string | null>();

  constructor(events: EventSink | null, resolve: () => Instruments, store: AnyStore, o: ObserveOptions) {
    this.events = events;
    this.#resolve = resolve;
    this.#store = store;
    this.#client = (store as { clientSide?: boolean }).clientSide === true;
    this.#storeName = store.constructor?.name || 'SessionStore';
    this.#cookieName = o.cookie.name;
    this.#logger = o.logger;
  }

  /** The tracer and instruments, asked for at the first use (a provider registered after import is found). */
  get instruments(): Instruments {
    return (this.#instruments ??= this.#resolve());
  }

  /** Whether loads need watching: events (a rejected cookie) or a tracer. */
  get loads(): boolean {
    return this.events !== null || this.instruments.tracer !== null;
  }

  /** Whether commits need watching (a tracer). */
  get commits(): boolean {
    return this.instruments.tracer !== null;
  }

  /** The server-side store, timed (`sessionkit.store.duration`) and its failures reported (`store_error`). */
  store(store: SessionStore): SessionStore {
    return watchStore(store, this);
  }

  #id(key: string | null): string | null {
    return key === null || this.#client ? null : digestKey(key);
  }

  /** A store operation failed (`store_error`); `subject` is the key or public id it was about. */
  storeFailed(operation: string, err: unknown, subject: unknown, data: unknown): void {
    if (this.events === null || (err instanceof SessionError && !(err instanceof StoreUnavailableError))) return;
    let id: string | null = null;
    if (subject !== null && typeof subject === 'object' && 'key' in subject) {
      // a write that takes one object ({ key, data, ... })
      data = (subject as { data?: unknown }).data;
      subject = (subject as { key: unknown }).key;
    }
    if (typeof subject === 'string') {
      if (operation === 'revoke')
        id = subject; // revoke takes the public id
      else if (KEYED.has(operation) && isWellFormedKey(subject)) id = digestKey(subject);
    }
    const userId = KEYED.has(operation) && data !== null && typeof data === 'object' ? userIdOf(data as SessionData) : null;
    this.events.emit('store_error', { id, userId, operation, error: String((err as Error)?.message ?? err) });
  }

  /** `sessions.load`: the `sessionkit.load` span, and `rejected_cookie` or `expired`. */
  load<S extends Session<any>>(req: RequestLike, read: (req: RequestLike) => S | Promise<S>): S | Promise<S> {
    const { tracer, within } = this.instruments;
    const span = tracer?.startSpan('sessionkit.load', { attributes: { 'sessionkit.store': this.#storeName } }) ?? null;
    let out: S | Promise<S>;
    try {
      out = span === null ? read(req) : within!(span, () => read(req));
    } catch (err) {
      if (span !== null) failSpan(span, outcomeOf(err), err);
      throw err;
    }
    if (!(out instanceof Promise)) return this.#loaded(out, req, span);
    return out.then(
      (session) => this.#loaded(session, req, span),
      (err: unknown) => {
        if (span !== null) failSpan(span, outcomeOf(err), err);
        throw err;
      },
    );
  }

  #loaded<S extends Session<any>>(session: S, req: RequestLike, span: OtelSpan | null): S {
    const s = stateOf(session);
    const outcome = s.key !== null ? 'loaded' : s.migrated !== null ? 'migrated' : s.hadCookie ? 'rejected' : 'absent';
    if (outcome === 'rejected' && this.events !== null) this.#rejected(req);
    if (span !== null) endSpan(span, outcome, this.#id(s.key));
    return session;
  }

  /**
   * The request's cookie named no live session. A store that still holds the record (past its
   * expiry: stores read expired records as absent) makes it `expired`, else `rejected_cookie`;
   * asked of the store after the request's own load, without the request waiting for it.
   */
  #rejected(req: RequestLike): void {
    const events = this.events!;
    const value = readCookie(cookieHeader(req), this.#cookieName) ?? '';
    if (this.#client || !isWellFormedKey(value)) {
      events.emit('rejected_cookie', { id: null });
      return;
    }
    const id = digestKey(value);
    (this.#store as SessionStore).exists(value).then(
      (held) => events.emit(held ? 'expired' : 'rejected_cookie', { id }),
      (err: unknown) => {
        this.#logger.warn('could not tell an expired session from an unknown one (exists failed)', {
          error: String((err as Error)?.message ?? err),
        });
        events.emit('rejected_cookie', { id });
      },
    );
  }

  /** `sessions.commitResponse`: the `sessionkit.commit` span. */
  commit<A extends Answer>(session: Session<any>, run: () => A | Promise<A>): A | Promise<A> {
    const { tracer, within } = this.instruments;
    const span = tracer!.startSpan('sessionkit.commit', { attributes: { 'sessionkit.store': this.#storeName } });
    const s = stateOf(session);
    const before = s.key;
    let out: A | Promise<A>;
    try {
      out = within!(span, run);
    } catch (err) {
      failSpan(span, outcomeOf(err), err);
      throw err;
    }
    const done = (answer: A): A => {
      const outcome = answer.setCookie === null ? 'unchanged' : s.key === null ? 'deleted' : before === null ? 'created' : 'saved';
      endSpan(span, outcome, this.#id(s.key));
      return answer;
    };
    if (!(out instanceof Promise)) return done(out);
    return out.then(done, (err: unknown) => {
      failSpan(span, outcomeOf(err), err);
      throw err;
    });
  }

  /** A session is about to be saved under `key` (a new key, or the cookie store's sealed value): `created` when it had none. */
  creating(s: SessionState, key: string): void {
    if (s.key !== null) return; // a key change: cycleKey or login tell
    this.instruments.created?.add(1);
    this.events?.emit('created', { id: this.#id(key), userId: userIdOf(s.data) });
  }

  /** `login` is under way: the coming key change is a login, not a renewal. */
  signingIn(s: SessionState): void {
    if (this.events !== null) this.#signingIn.set(s, this.#id(s.key));
  }

  /** `cycleKey` replaced the key `old` (`renewed`), unless `login` did it (then `login` tells). */
  rotated(s: SessionState, old: string | null): void {
    if (this.events === null || this.#signingIn.has(s) || old === null) return;
    this.events.emit('renewed', { id: this.#id(s.key), previousId: this.#id(old), userId: userIdOf(s.data) });
  }

  /** `login(userId)` saved the session under its new key. */
  login(s: SessionState, userId: string): void {
    if (this.events === null) return;
    const previousId = this.#signingIn.get(s) ?? null;
    this.#signingIn.delete(s);
    const meta = metaOf(s.data);
    const userAgent = typeof meta?.userAgent === 'string' ? meta.userAgent : null;
    const ip = typeof meta?.ip === 'string' ? meta.ip : null;
    this.events.emit('login', { id: this.#id(s.key), previousId, userId, userAgent, ip });
  }

  /** `flush` is about to end the session: call what this returns once its record is gone. */
  ending(s: SessionState): (() => void) | undefined {
    const events = this.events;
    if (events === null || s.key === null) return undefined;
    const id = this.#id(s.key);
    const userId = userIdOf(s.data);
    return () => events.emit('logout', { id, userId });
  }

  /** `revokeSession` ended the session with this public id. */
  revoked(id: string, userId: string | null): void {
    this.events?.emit('revoked', { id, userId });
  }

  /** A commit's conditional write met a parallel change; its own changes go on top of the fresh record. */
  conflict(s: SessionState, key: string): void {
    this.instruments.conflicts?.add(1);
    this.events?.emit('conflict', { id: this.#id(key), userId: userIdOf(s.data) });
  }
}

/** The store operations whose first argument is a session key (and, for writes, the second its data). */
const KEYED = new Set(['load', 'create', 'update', 'delete', 'touch', 'exists']);

function outcomeOf(err: unknown): string {
  return err instanceof SessionInterruptedError ? 'interrupted' : err instanceof StoreUnavailableError ? 'unavailable' : 'error';
}
