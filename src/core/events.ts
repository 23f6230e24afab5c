// Session events (`createSessions({ onEvent })`): what happened to which session, for audit logs and alerts.
import type { Logger } from './log.js';

/**
 * What happened:
 * - `created`: a new session was saved for the first time (`id` its public id);
 * - `renewed`: `cycleKey()` gave the session a new key (`id` the new public id, `previousId` the old);
 * - `login`: `login(userId)` signed the session in (`id` the new public id, `previousId` the old
 *   one or null, `userId`, and the `userAgent` and `ip` recorded);
 * - `logout`: `flush()` ended the session;
 * - `revoked`: `revokeSession`, `revokeUserSessions` or `maxSessionsPerUser` ended it;
 * - `expired`: a request arrived with a session the store still held past its expiry;
 * - `rejected_cookie`: a request's session cookie was malformed, unknown or tampered with (a
 *   fresh session is started); `id` is the public id the cookie would have, or null when the
 *   cookie could not be a key;
 * - `conflict`: a commit met a parallel change to the session and merged its own changes on top;
 * - `store_error`: the store failed or timed out (`operation` and `error` say which and how);
 * - `device_bound`: the session was bound to a device key (device-bound sessions).
 */
export type SessionEventType =
  | 'created'
  | 'renewed'
  | 'login'
  | 'logout'
  | 'revoked'
  | 'expired'
  | 'rejected_cookie'
  | 'conflict'
  | 'store_error'
  | 'device_bound';

/** One event given to `onEvent`. It never carries the session key: `id` is the public id (`session.id`). */
export interface SessionEvent {
  type: SessionEventType;
  /** The session's public id (the SHA-256 digest of its key, as `session.id`); null where there is none (the cookie store, a malformed cookie, a store failure of no session). */
  id: string | null;
  /** The user the session is signed in as, where known; else null. */
  userId: string | null;
  /** When it happened, by the sessions' clock (the `clock` option). */
  at: Date;
  /** `renewed` and `login`: the public id before the key changed (null for a login of a session never saved). */
  previousId?: string | null;
  /** `login`: the User-Agent header recorded for the session (at most 512 characters). */
  userAgent?: string | null;
  /** `login`: the client address recorded for the session. */
  ip?: string | null;
  /** `store_error`: the store operation that failed (`load`, `create`, `update`, `delete`, `touch`, `revoke`, ...). */
  operation?: string;
  /** `store_error`: the failure's message (never the key). */
  error?: string;
}

/**
 * Receives every event. It runs synchronously where the event happens; a promise it returns is
 * not awaited, and a throw or rejection is logged (the `logger` option), never answered to the
 * request. Keep it quick, or hand the work on (a queue, `setImmediate`).
 */
export type SessionEventHandler = (event: SessionEvent) => unknown;

/** The fields of an event other than `type` and `at`. */
export type SessionEventFields = Omit<SessionEvent, 'type' | 'at' | 'id' | 'userId'> & { id: string | null; userId?: string | null };

/** Delivers events to one application's handler; a throwing or rejecting handler is logged. */
export class EventSink {
  readonly #handler: SessionEventHandler;
  readonly #clock: () => number;
  readonly #logger: Logger;

  constructor(handler: SessionEventHandler, clock: () => number, logger: Logger) {
    this.#handler = handler;
    this.#clock = clock;
    this.#logger = logger;
  }

  emit(type: SessionEventType, fields: SessionEventFields): void {
    const event: SessionEvent = { type, ...fields, id: fields.id, userId: fields.userId ?? null, at: new Date(this.#clock()) };
    try {
      const result = this.#handler(event);
      if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.#failed(type, err));
      }
    } catch (err) {
      this.#failed(type, err);
    }
  }

  #failed(type: SessionEventType, err: unknown): void {
    this.#logger.error('the onEvent handler failed; the request went on', { event: type, error: String((err as Error)?.message ?? err) });
  }
}

/** The event sink of each `createSessions` result that has an `onEvent` handler. */
const sinks = new WeakMap<object, EventSink>();

/** @internal Called by the engine at createSessions. */
export function registerSink(sessions: object, sink: EventSink): void {
  sinks.set(sessions, sink);
}

/**
 * Emits an event through the `onEvent` handler of `sessions` (what `createSessions` returned);
 * nothing when it has none. For code that extends sessionkit (device binding emits
 * `device_bound` through it); `id` must be the public id, never the key.
 */
export function emitSessionEvent(sessions: object, type: SessionEventType, fields: SessionEventFields): void {
  sinks.get(sessions)?.emit(type, fields);
}
