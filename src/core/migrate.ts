import { emptyData, type SessionData } from './codec.js';

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

/**
 * A session found in the previous system. On a server-side store its data is saved under a new
 * key as the request is loaded (before the handler runs), so that parallel requests carrying the
 * same old cookie can be given that same session (`key`).
 */
export interface MigratedSession {
  /** The old data. Keys sessionkit reserves for itself (see isReservedKey) are dropped. Ignored with `key`. */
  data: SessionData;
  /**
   * Set when a parallel request already moved this old session: the key of that sessionkit session,
   * which is loaded instead (when it no longer exists, after a logout, the request gets a fresh session).
   */
  key?: string;
  /** Binds the new session to this user (`session.userId`), as `login` records it, without cycling the key. */
  userId?: string | null;
  /** The new session's expiry: an absolute date, 0 for a browser-session cookie, undefined for the default. */
  expiry?: Date | 0;
  /** Set-Cookie values sent with the response that saves the new session (the old cookie, expired). */
  expireCookies: readonly string[];
  /** Called with the new session's key once it is stored (before the handler runs), or null when none was made. */
  created?(key: string | null): void;
  /** Called once the new session is saved, or when it is flushed (a logout): removes the old record. */
  saved(): Promise<void>;
}

/**
 * The data keys sessionkit keeps for itself, which a migration drops from old data and
 * `req.session`'s properties do not show: every key starting with `_session` (`_session_meta`,
 * `_session_expiry`, …), `_csrftoken` and `_flash`.
 */
export function isReservedKey(name: string): boolean {
  return name.charCodeAt(0) === 95 /* _ */ && (name.startsWith('_session') || name === '_csrftoken' || name === '_flash');
}

/** Old data without the keys sessionkit reserves. */
export function withoutReservedKeys(data: SessionData): SessionData {
  const out = emptyData();
  for (const k of Object.keys(data)) if (!isReservedKey(k)) out[k] = data[k];
  return out;
}
