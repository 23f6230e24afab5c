// Accounts and devices: sign-in records, listing and revoking a user's sessions.
import {
  type AccountOptions,
  byLastSeen,
  clientOf,
  metaOf,
  isTombstone,
  type SessionMeta,
  toUserSession,
  type UserSession,
} from '../accounts.js';
import { digestKey } from '../keys.js';
import { type AnyStore, capabilitiesOf, type UserIndexedStore } from '../store.js';
import { ConfigError } from '../errors.js';
import { Session, type SessionState } from '../session.js';
import { type Core, rethrowUnavailable } from './core.js';
import { successorOf } from './tombstones.js';

export function signIn(c: Core, s: SessionState, userId: string): SessionMeta {
  c.obs?.signingIn(s);
  return { since: c.now(), user: userId, ...clientOf(s.request, c.o.accounts.trustProxy) };
}

export async function signedIn(c: Core, s: SessionState, userId: string): Promise<void> {
  c.obs?.login(s, userId);
  const max = c.o.accounts.maxSessionsPerUser;
  if (max === null || s.key === null) return;
  const current = digestKey(s.key);
  const others = (await listUserSessions(c, userId)).filter((u) => u.id !== current);
  for (const old of others.slice(max - 1)) await revokeSession(c, old.id, userId); // least recently seen last
}

export function publicId(c: Core, s: SessionState): string | null {
  return s.key === null || c.client ? null : digestKey(s.key);
}

export function indexed(c: Core, what: string): UserIndexedStore {
  const can = capabilitiesOf(c.store).userIndex;
  if (can === true) return (c.server ?? c.store) as UserIndexedStore;
  throw new ConfigError('store', `${what}: ${can}`);
}

export async function listUserSessions(c: Core, userId: string): Promise<UserSession[]> {
  const store = indexed(c, 'listUserSessions');
  if (typeof userId !== 'string' || userId === '') return [];
  const found = await store.listByUser(userId, c.now()).catch(rethrowUnavailable);
  return found
    .filter((f) => metaOf(f.data)?.user === userId && !isTombstone(f.data))
    .map((f) => toUserSession(f, userId))
    .sort(byLastSeen);
}

/** `userId`: whose session it is, when the caller knows (for the `revoked` event). */
export async function revokeSession(c: Core, id: string, userId: string | null = null): Promise<boolean> {
  const store = indexed(c, 'revokeSession');
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) return false;
  const existed = await store.revoke(id).catch(rethrowUnavailable);
  if (existed) c.obs?.revoked(id, userId);
  // A session replaced by login/cycleKey moments ago lives on under its new key: end that one too.
  const successor = await successorOf(c, id, c.now());
  if (successor !== null && (await revokeSession(c, successor, userId))) return true;
  return existed;
}

export async function revokeUserSessions(
  c: Core,
  userId: string,
  options: { except?: Session<any> | string | null } = {},
): Promise<number> {
  const except = options.except instanceof Session ? options.except.id : (options.except ?? null);
  let revoked = 0;
  for (const u of await listUserSessions(c, userId)) {
    if (u.id !== except && (await revokeSession(c, u.id, userId))) revoked++;
  }
  return revoked;
}

/** Options that need a user index or a server-side expiry: refused at createSessions on a store that has none. */
export function checkAccountSupport(o: AccountOptions, store: AnyStore): void {
  const can = capabilitiesOf(store).userIndex;
  const indexed = can === true;
  const why = can === true ? '' : can;
  const s = store as { clientSide?: boolean };
  if (o.idleTimeout !== null && !indexed)
    throw new ConfigError(
      'idleTimeout',
      `${why}; drop idleTimeout, or use a store that keeps sessions on the server (SqliteStore, RedisStore, PostgresStore)`,
    );
  if (o.maxSessionsPerUser !== null && !indexed)
    throw new ConfigError('maxSessionsPerUser', `${why}; drop maxSessionsPerUser, or use SqliteStore, RedisStore or PostgresStore`);
  if (o.absoluteTimeout !== null && s.clientSide === true)
    throw new ConfigError('absoluteTimeout', `${why}; drop absoluteTimeout, or use a store that keeps sessions on the server`);
}
