// Loading a request's session: the cookie, the store (or its synchronous facet), tombstones, migration.
import { checkUserId, isTombstone, META_KEY, tombstoneKey, tombstoneReason } from '../accounts.js';
import { digestKey, isWellFormedKey } from '../keys.js';
import type { StoredSession } from '../store.js';
import { ownData } from '../codec.js';
import { cookieHeader, readCookie, type RequestLike } from '../cookie.js';
import { EXPIRY_KEY, toPythonIso } from '../expiry.js';
import { type MigratedSession, withoutReservedKeys } from '../migrate.js';
import { initialState, loaded, lost, migrated, type Session, unresolved, type SessionState } from '../session.js';
import { type Core, rethrowUnavailable, storedData, usable } from './core.js';
import { createRecord } from './writer.js';
import { signIn } from './account-service.js';

/** `load`, answering synchronously when no store I/O is needed (no cookie, cookie store). */
export function loadObserved(c: Core, req?: RequestLike): Session<any> | Promise<Session<any>> {
  const obs = c.obs;
  return obs === null || !obs.loads ? loadNow(c, req) : obs.load(req, (r) => loadNow(c, r));
}

export function loadNow(c: Core, req?: RequestLike): Session<any> | Promise<Session<any>> {
  const value = readCookie(cookieHeader(req), c.o.cookie.name);
  const state = initialState(value !== undefined);
  state.request = req;
  // Django keeps a cookie value of 8+ characters as "not empty" until the session is looked at;
  // a shorter one is empty at once, so its cookie is deleted even when the view never touched it.
  if (value === undefined && c.o.migrate !== null) return migrateIn(c, state, req);
  if (value === undefined || value.length < 8) return c.session(state);
  if (c.client) {
    const found = c.client.unseal(value, c.maxAge, c.now());
    if (found && usable(c, found.data, 'CookieStore')) loaded(state, value, ownData(found.data), 0);
    else unresolved(state);
    return c.session(state);
  }
  if (!isWellFormedKey(value)) {
    unresolved(state);
    return c.session(state);
  }
  const store = c.server!;
  const loadSync = c.loadSync;
  if (loadSync !== undefined) {
    let found: StoredSession | null;
    try {
      found = loadSync(value, c.now());
      found ??= loadSync(tombstoneKey(digestKey(value)), c.now());
    } catch (err) {
      rethrowUnavailable(err);
    }
    return fromStore(c, state, value, found);
  }
  return store
    .load(value, c.now())
    .then((found) => found ?? store.load(tombstoneKey(digestKey(value)), c.now()))
    .then((found) => fromStore(c, state, value, found), rethrowUnavailable);
}

export function fromStore(c: Core, state: SessionState, key: string, found: StoredSession | null): Session<any> {
  if (found && isTombstone(found.data)) {
    lost(state, tombstoneReason(found.data));
    state.replacedBy = digestKey(key);
  } else if (found) {
    // a bound session without its good bound cookie (a copied session cookie): an empty session, nothing written
    if (c.bound !== null && !c.bound.admits(found.data, state.request, c.now())) {
      c.bound.detach(state);
      return c.session(state);
    }
    loaded(state, key, storedData(c, found), found.version);
    state.lastSeenAt = found.lastSeenAt ?? null;
  } else unresolved(state);
  return c.session(state);
}

/** A request without a sessionkit cookie: a previous system's session moved over, if it has one (`migrate`). */
export function migrateIn(c: Core, state: SessionState, req: RequestLike): Session<any> | Promise<Session<any>> {
  const header = cookieHeader(req);
  if (header === undefined) return c.session(state);
  const adopt = (found: MigratedSession | null) => {
    if (found === null) return c.session(state);
    return moveIn(c, state, found).then(() => c.session(state));
  };
  let found: MigratedSession | null | Promise<MigratedSession | null>;
  try {
    found = c.o.migrate!.load(header);
  } catch (err) {
    return Promise.reject(err).catch(rethrowUnavailable);
  }
  return found instanceof Promise ? found.then(adopt, rethrowUnavailable) : adopt(found);
}

/**
 * The previous system's session lands in this store before the handler runs (bound to its user,
 * with its expiry, without reserved keys), so parallel requests with the same old cookie are
 * given it (`found.key`); one that no longer exists (a logout since) leaves a fresh session.
 */
export async function moveIn(c: Core, state: SessionState, found: MigratedSession): Promise<void> {
  if (found.key !== undefined) {
    const stored = c.server === null ? null : await c.server.load(found.key, c.now()).catch(rethrowUnavailable);
    if (stored !== null) {
      fromStore(c, state, found.key, stored);
      migrated(state, state.data, found);
    }
    return;
  }
  if (!usable(c, found.data, 'migrate')) return found.created?.(null);
  const data = withoutReservedKeys(found.data);
  if (found.expiry !== undefined) data[EXPIRY_KEY] = found.expiry === 0 ? 0 : toPythonIso(found.expiry);
  if (typeof found.userId === 'string' && found.userId !== '') data[META_KEY] = signIn(c, state, checkUserId(found.userId));
  migrated(state, data, found);
  if (c.server === null) return found.created?.(null);
  try {
    await createRecord(c, state, c.now());
  } catch (err) {
    found.created?.(null);
    throw err;
  }
  found.created?.(state.key);
  migrated(state, state.data, found); // still to be committed: the cookie, and the old record removed
}
