/**
 * Everything `sessionkit` exports but `createSessions`, shared by the two builds of the main entry:
 * `index.ts` (Node.js, Bun, Deno: SQLite is the default store) and `edge.ts` (Workers, edge,
 * browsers: no default store, so no SQLite code in their bundles).
 */
export type { SessionTypes, DeclaredSessionData } from './core/session-types.js';
export type { Sessions, CommitOptions, CommitResponse } from './core/sessions.js';
export type { SessionCookie, SessionCookieOptions } from './core/cookie.js';
export type { SessionsOptions, CookieOptions } from './core/options.js';
export type { DeviceBoundOptions, EndpointRequest } from './core/device-bound.js';
export { deviceBoundRequest, type DeviceBoundAnswer } from './core/device-bound-endpoint.js';
export type { SessionMigration, MigratedSession } from './core/migrate.js';
export type { RequestLike } from './core/cookie.js';
export type { Logger } from './core/log.js';
export type { SessionEvent, SessionEventType, SessionEventHandler } from './core/events.js';
export type { Secret } from './core/signing.js';
export type { SessionData } from './core/codec.js';
export { Session } from './core/session.js';
export {
  SessionError,
  SessionKeyError,
  SessionDataError,
  SessionInterruptedError,
  StoreUnavailableError,
  ConfigError,
  sessionErrorResponse,
  type SessionErrorOptions,
} from './core/errors.js';
export type {
  SessionStore,
  StoreCreate,
  StoreUpdate,
  ClientSideStore,
  AnyStore,
  StoredSession,
  UpdateResult,
  StoreStats,
  UserIndexedStore,
  StoreCapabilities,
  StoredSessionData,
  CreateStoreOptions,
} from './core/store.js';
export { type UserSession, type IndexedSession, userIdOf } from './core/accounts.js';
export {
  verifyCsrfToken,
  checkCsrf,
  checkRequestCsrf,
  resolveCsrfOptions,
  CSRF_FIELD,
  CSRF_HEADER,
  CSRF_REFUSED_TEXT,
  type CsrfRequest,
  type CsrfOptions,
  type CsrfVerdict,
  type CsrfRefusal,
  type CsrfRefusalReason,
  type ResolvedCsrfOptions,
} from './core/csrf.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js';
export { SqliteStore, type SqliteStoreOptions, type SqliteDriverName } from './stores/sqlite.js';
export type { SqliteConnection, SqliteStatement } from './stores/sql/sqlite.js';
export { RedisStore, type RedisStoreOptions, type RedisStoreClient } from './stores/redis.js';
export type { NodeRedisClient, NodeRedisCluster, IoredisClient, IoredisCluster } from './stores/redis-client.js';
export { CookieStore, type CookieStoreOptions } from './stores/cookie.js';
export { PostgresStore, type PostgresStoreOptions } from './stores/postgres.js';
export type { PgPool } from './stores/sql/postgres.js';
export { CachedStore, type CachedStoreOptions } from './stores/cached.js';
export { createStore } from './stores/url.js';
