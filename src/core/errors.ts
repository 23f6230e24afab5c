/**
 * Every error sessionkit throws. Each has a stable `code` (match on it, never on the message)
 * and, where one exists, the underlying `cause`.
 */
export class SessionError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message.startsWith('sessionkit:') ? message : `sessionkit: ${message}`, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An absent key was required (`require`, `pop` without fallback): Django's KeyError. */
export class SessionKeyError extends SessionError {
  readonly key: string;
  constructor(key: string) {
    super('SESSION_KEY', `no key ${JSON.stringify(key)} in the session; use get(key, fallback) when it may be absent`);
    this.key = key;
  }
}

/** A value that cannot be stored: it does not survive a JSON round trip, or it is too large. */
export class SessionDataError extends SessionError {
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
  constructor(message?: string, options?: { cause?: unknown }) {
    super(
      'SESSION_INTERRUPTED',
      message ??
        "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.",
      options,
    );
  }
}

/** The store cannot be reached or did not answer in time. Adapters answer 503. */
export class StoreUnavailableError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** A bad option, caught when it is given (createSessions, a store's constructor, createStore). */
export class ConfigError extends SessionError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('CONFIG', `option ${option}: ${message}`);
    this.option = option;
  }
}
