import type { UpdateResult } from '../store.js';
import { cookieParts, deletionCookie, sessionCookie } from '../cookie.js';
import { SessionInterruptedError } from '../errors.js';
import { cookieMaxAge, EXPIRY_KEY } from '../expiry.js';
import { clearSiteDataAsked, saved, type Session, stateOf, type SessionState } from '../session.js';
import { type Core, detectNestedChanges, interrupted, rethrowUnavailable } from './core.js';
import { Committed, NOTHING, VARY_ONLY, type CommitOptions, type CommitResponse } from './committed.js';
import { write, checkSize, expiryOf } from './writer.js';
import { touchDue, touchSession } from './touch.js';

export function commitNow(c: Core, session: Session<any>, options?: CommitOptions): CommitResponse | Promise<CommitResponse> {
  const s = stateOf(session);
  if (!clearSiteDataAsked.has(s)) return decide(c, session, s, options);
  clearSiteDataAsked.delete(s);
  const result = decide(c, session, s, options) as Committed | Promise<Committed>;
  return result instanceof Promise ? result.then((r) => r.clearingSiteData()) : result.clearingSiteData();
}

export function decide(c: Core, session: Session<any>, s: SessionState, options?: CommitOptions): CommitResponse | Promise<CommitResponse> {
  const status = options?.status ?? 200;
  detectNestedChanges(s);
  if (s.lost !== null) return lostResponse(c, s);
  if (c.bound?.isDetached(s)) return s.accessed ? VARY_ONLY : NOTHING;
  if (s.hadCookie && session.isEmpty) {
    return new Committed(deletionCookie(c.o.cookie), true, () => cookieParts(c.o.cookie, '', 0, 0));
  }
  // written before the commit on the request that moved a previous system's session in: the
  // commit still has to end that session (its record destroyed, its cookie expired)
  if (s.cookieDue && s.migrated !== null) s.modified = true;
  const vary = s.accessed;
  if (!(s.modified || c.o.saveEveryRequest) || session.isEmpty || status >= 500) {
    if (s.cookieDue && status < 500 && !session.isEmpty) {
      // written before the commit (save, cycleKey): the new key still has to reach the browser
      s.cookieDue = false;
      return committedFor(c, s, true);
    }
    const result = vary ? VARY_ONLY : NOTHING;
    return status < 500 && touchDue(c, s) ? touchSession(c, s).then(() => result) : result;
  }
  s.unresolvedCookie = false; // saved under a server-made key, never the client's
  if (s.migrated === null && savedSync(c, s)) return committedFor(c, s, vary);
  return write(c, s).then(() => {
    const from = s.migrated;
    const result = committedFor(c, s, vary, from?.expireCookies);
    if (from === null) return result;
    s.migrated = null;
    // The old record goes once the new one is saved; if that fails it is only left to expire.
    return from.saved().then(
      () => result,
      (err: unknown) => {
        c.logger.warn('could not remove the migrated session from the previous store', { error: String(err) });
        return result;
      },
    );
  });
}

/**
 * A request whose session is gone for it (`SessionState.lost`): its changes are refused, nothing
 * is written, and a replaced key's response carries no session cookie at all.
 */
export function lostResponse(c: Core, s: SessionState): CommitResponse {
  if (s.modified) throw new SessionInterruptedError();
  if (s.lost === 'revoked' && s.hadCookie) {
    return new Committed(deletionCookie(c.o.cookie), true, () => cookieParts(c.o.cookie, '', 0, 0));
  }
  return s.accessed ? VARY_ONLY : NOTHING;
}

export function committedFor(c: Core, s: SessionState, vary: boolean, expireCookies?: readonly string[]): CommitResponse {
  s.cookieDue = false;
  const now = c.now();
  const maxAge = cookieMaxAge(s.data[EXPIRY_KEY], c.maxAge, c.expireAtBrowserClose, now);
  const key = s.key!;
  const cookie = c.o.cookie;
  const headers = c.bound?.headersFor(s) ?? undefined;
  return new Committed(sessionCookie(cookie, key, maxAge, now), vary, () => cookieParts(cookie, key, maxAge, now), expireCookies, headers);
}

/**
 * The save of an existing session through the store's synchronous `update`, when it has one and no
 * other commit of this key is in progress here: true when written. A conflict (a write from
 * another process) goes on in `write`, which reloads, merges and retries.
 */
export function savedSync(c: Core, s: SessionState): boolean {
  const updateSync = c.updateSync;
  if (updateSync === undefined || s.key === null || c.inFlight.has(s.key)) return false;
  const now = c.now();
  const json = checkSize(c, s.data);
  const until = expiryOf(c, s.data, now);
  let result: UpdateResult;
  try {
    result = updateSync({ key: s.key, data: s.data, expiresAt: until, expectedVersion: s.version, now, json });
  } catch (err) {
    rethrowUnavailable(err);
  }
  if (result.status === 'ok') {
    saved(s, s.key, result.version);
    return true;
  }
  if (result.status === 'missing') throw interrupted(s, 'revoked');
  return false;
}
