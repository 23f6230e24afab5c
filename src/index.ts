/**
 * Server-side sessions with Django's semantics: `createSessions`, `Session`, the stores and the errors.
 * Guide: docs/getting-started.md and docs/session-api.md.
 *
 * @module sessionkit
 */
import { makeSessions, type Sessions } from './core/sessions.js';
import type { SessionsOptions } from './core/options.js';
import { SqliteStore } from './stores/sqlite.js';
import type { AnyStore } from './core/store.js';
import type { DeclaredSessionData } from './core/session-types.js';

/**
 * Sessions for a web application, with Django's semantics. Options are checked here, once:
 * a bad one throws ConfigError naming it. Without `store`, sessions go to SQLite at
 * `./sessions.sqlite3` (on Workers and edge runtimes, which have no SQLite, `store` is required).
 */
export function createSessions<Data extends Record<string, any> = DeclaredSessionData>(
  options: SessionsOptions<AnyStore> = {},
): Sessions<Data> {
  return makeSessions<Data>(options, () => new SqliteStore({ path: './sessions.sqlite3' }));
}

export * from './public.js';
