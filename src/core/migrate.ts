import type { SessionData } from './codec.js';

/**
 * Moves visitors over from a previous session system without logging anyone out:
 * `createSessions({ migrate })`, e.g. `fromExpressSession(...)` from `sessionkit/express-session`.
 * Asked only for requests that carry no sessionkit cookie.
 */
export interface SessionMigration {
  /**
   * The previous system's session for a request's Cookie header, or null when there is none (a
   * bad signature, an unknown id). Must answer null synchronously when the header holds no cookie
   * of the previous system, so that such requests cost nothing.
   */
  load(cookieHeader: string): MigratedSession | null | Promise<MigratedSession | null>;
}

/** A session found in the previous system: its data goes into a new sessionkit session under a new key. */
export interface MigratedSession {
  data: SessionData;
  /** Set-Cookie values sent with the response that saves the new session (the old cookie, expired). */
  expireCookies: readonly string[];
  /** Called once the new session is saved: removes the old record. */
  saved(): Promise<void>;
}
