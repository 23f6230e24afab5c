/**
 * Every error sessionkit throws. Each has a stable `code` (match on it, never on the message),
 * where one exists the underlying `cause`, and the HTTP answer an adapter gives when it reaches
 * one: `status` and `responseText`, a short text safe to show a visitor (the `message` is for
 * the developer and may name options, keys or a driver's failure).
 */
export class SessionError extends Error {
  /** Stable across versions: SESSION_KEY, SESSION_DATA, SESSION_INTERRUPTED, STORE_UNAVAILABLE or CONFIG. */
  readonly code: string;
  /** The HTTP status an adapter answers with: 400, 503, or 500 for a bug or a bad option. */
  readonly status: number;
  /** The response body an adapter sends with `status`; reveals nothing of the application. */
  readonly responseText: string;
  constructor(code: string, message: string, options?: SessionErrorOptions) {
    super(message.startsWith('sessionkit:') ? message : `sessionkit: ${message}`, options);
    this.name = new.target.name;
    this.code = code;
    this.status = options?.status ?? 500;
    this.responseText = options?.responseText ?? RESPONSE_TEXT[this.status] ?? RESPONSE_TEXT[500]!;
  }
}

/** What a SessionError carries beside its message. */
export interface SessionErrorOptions {
  cause?: unknown;
  /** @default 500 */
  status?: number;
  /** @default the standard text for the status */
  responseText?: string;
}

const RESPONSE_TEXT: Record<number, string> = {
  400: 'Bad Request: the session ended while this request was handled (for example a logout in another tab). Please try again.\n',
  503: 'Service Unavailable: the session store cannot be reached. Please try again shortly.\n',
  500: 'Internal Server Error\n',
};

/** The 400 text when parallel requests kept changing the session and a commit gave up merging. */
export const CONTENTION_TEXT =
  "Bad Request: the session kept changing in parallel requests while this request was handled, so this request's changes were not saved. Please try again.\n";

/**
 * The answer for an error thrown by `load` or `commit`: `{ status, text }` for a sessionkit error
 * (400 for SessionInterruptedError, 503 for StoreUnavailableError, 500 for the rest), null for
 * any other error, which is the application's to handle. For people writing their own adapter:
 *
 * ```ts
 * const answer = sessionErrorResponse(err);
 * if (answer === null) throw err;
 * return new Response(answer.text, { status: answer.status, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
 * ```
 */
export function sessionErrorResponse(err: unknown): { status: number; text: string } | null {
  return err instanceof SessionError ? { status: err.status, text: err.responseText } : null;
}

/** An absent key was required (`require`, `pop` without fallback): Django's KeyError. */
export class SessionKeyError extends SessionError {
  /** The session key that was absent. */
  readonly key: string;
  constructor(key: string) {
    super('SESSION_KEY', `no key ${JSON.stringify(key)} in the session; use get(key, fallback) when it may be absent`);
    this.key = key;
  }
}

/** A value that cannot be stored: it does not survive a JSON round trip, or it is too large. */
export class SessionDataError extends SessionError {
  /** The session key whose value could not be stored, when there is one. */
  readonly key: string | undefined;
  constructor(message: string, key?: string, options?: { cause?: unknown }) {
    super('SESSION_DATA', message, options);
    this.key = key;
  }
}

/**
 * The session was deleted elsewhere (a logout in another tab) while this request changed it,
 * or a conflicting write could not be merged. Adapters answer 400, as Django's SessionInterrupted.
 */
export class SessionInterruptedError extends SessionError {
  constructor(message?: string, options?: { cause?: unknown; responseText?: string }) {
    super(
      'SESSION_INTERRUPTED',
      message ??
        "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.",
      { ...options, status: 400 },
    );
  }
}

/** The store cannot be reached or did not answer in time. Adapters answer 503. */
export class StoreUnavailableError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, { ...options, status: 503 });
  }
}

/** A bad option, caught when it is given (createSessions, a store's constructor, createStore). */
export class ConfigError extends SessionError {
  /** The option at fault, e.g. `cookie.maxAge`. */
  readonly option: string;
  constructor(option: string, message: string) {
    super('CONFIG', `option ${option}: ${message}`);
    this.option = option;
  }
}
