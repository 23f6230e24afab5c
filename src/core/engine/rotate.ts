// Logout and key rotation: conditional on the record as the request loaded it, so a logout always wins.
import { isTombstone, REPLACED_FOR, REPLACED_KEY, SUCCESSOR_KEY, tombstoneKey, tombstoneReason, userIdOf } from '../accounts.js';
import { digestKey } from '../keys.js';
import type { SessionData } from '../codec.js';
import { SessionInterruptedError, StoreUnavailableError } from '../errors.js';
import { dirty, rebased, reset, saved, type SessionState } from '../session.js';
import { type Core, MAX_COMMIT_ATTEMPTS, detectNestedChanges, interrupted, rethrowUnavailable, noop } from './core.js';
import { storedData } from './core.js';
import { whyGone, endReplacement, pointTombstone } from './tombstones.js';
import { createRecord, checkSize, expiryOf } from './writer.js';

export async function flush(c: Core, s: SessionState): Promise<void> {
  const old = s.key;
  const version = s.version;
  const ended = c.obs?.ending(s);
  const replaced = s.lost === 'replaced';
  const from = s.migrated;
  s.migrated = null;
  reset(s);
  if (from !== null) await from.saved().catch(rethrowUnavailable); // a logout on the migrating request: the old record goes too
  if (!c.server) {
    ended?.();
    return;
  }
  if (replaced) {
    // A logout sent with a key that login replaced moments ago: it ends the new session too.
    s.lost = 'replaced';
    s.modified = false;
    if (s.replacedBy !== null) await endReplacement(c, s.replacedBy, c.now());
    ended?.();
    return;
  }
  if (old !== null) await endRecord(c, old, version);
  ended?.();
}

/**
 * Ends the stored session under `key` (logout), conditionally on the version the request knew:
 * the record is first marked as ending, so a `login`/`cycleKey` racing it (whose replacement of
 * the record is conditional too) either sees the logout and gives up, or has already replaced
 * it, and then the new session it made is ended as well. Then the record is deleted.
 */
export async function endRecord(c: Core, key: string, version: number): Promise<void> {
  const store = c.server!;
  let expected = version;
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    const now = c.now();
    const result = await store
      .update({ key, data: { [REPLACED_KEY]: '' }, expiresAt: now + REPLACED_FOR * 1000, expectedVersion: expected, now })
      .catch(rethrowUnavailable);
    if (result.status === 'ok') break;
    const fresh = await store.load(key, now).catch(rethrowUnavailable);
    if (result.status === 'missing' || fresh === null) {
      // Gone already, or replaced by a login that finished meanwhile: end the session that replaced it.
      await endReplacement(c, digestKey(key), now);
      return;
    }
    if (isTombstone(fresh.data)) await endReplacement(c, digestKey(key), now);
    expected = fresh.version;
  }
  await store.delete(key).catch(rethrowUnavailable);
}

export async function cycleKey(c: Core, s: SessionState): Promise<void> {
  if (s.lost !== null) throw new SessionInterruptedError();
  dirty(s);
  if (c.client) return; // the cookie is re-signed at commit; old cookies cannot be revoked
  detectNestedChanges(s);
  const old = s.key;
  if (c.bound !== null && userIdOf(s.data) !== null) c.bound.issueRegistration(s, c.now());
  if (old === null) {
    await createRecord(c, s, c.now());
    s.cookieDue = true;
    c.obs?.rotated(s, null);
    return;
  }
  await rotate(c, s, old);
  c.obs?.rotated(s, old);
}

/**
 * `cycleKey` of a stored session, conditional on the record as this request loaded it: the data
 * is written under a new key, then the old record is replaced by a tombstone naming the new one,
 * only if it still holds the version this request knows (a conflict merges and retries as a
 * commit does). A logout or revoke that came first makes the replacement fail: the new record is
 * deleted and SessionInterruptedError thrown, so nothing is brought back. One that comes after
 * finds the tombstone, or (revokeUserSessions) the new record under the same user.
 */
export async function rotate(c: Core, s: SessionState, old: string): Promise<void> {
  const store = c.server!;
  const previous = { version: s.version, ops: s.ops };
  await createRecord(c, s, c.now());
  const key = s.key!;
  let written = s.version;
  s.key = old;
  s.version = previous.version;
  s.ops = previous.ops;
  const tomb: SessionData = { [REPLACED_KEY]: digestKey(key) };
  if (c.keysInClear) tomb[SUCCESSOR_KEY] = key; // the store holds that key in clear anyway
  const tombKey = tombstoneKey(digestKey(old));
  const giveUp = async (why: 'revoked' | 'replaced'): Promise<never> => {
    await store.delete(key).catch(rethrowUnavailable);
    throw interrupted(s, why);
  };
  try {
    // The tombstone first: from here on, a revoke or logout of the old session finds the new one.
    let now = c.now();
    const tombWritten = await store
      .create({ key: tombKey, data: tomb, expiresAt: now + REPLACED_FOR * 1000, now })
      .catch(rethrowUnavailable);
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      now = c.now();
      const result = await store
        .update({ key: old, data: tomb, expiresAt: now + REPLACED_FOR * 1000, expectedVersion: s.version, now })
        .catch(rethrowUnavailable);
      if (result.status === 'ok') {
        saved(s, key, written);
        s.cookieDue = true;
        // Tidying that may fail without harm: the old record already says it was replaced.
        if (tombWritten === null) await pointTombstone(c, tombKey, tomb, now).catch(noop);
        await store.delete(old).catch(noop);
        return;
      }
      if (result.status === 'missing') return await giveUp(await whyGone(c, old));
      const fresh = await store.load(old, now).catch(rethrowUnavailable);
      if (fresh === null) return await giveUp(await whyGone(c, old));
      if (isTombstone(fresh.data)) return await giveUp(tombstoneReason(fresh.data));
      // A parallel commit changed the old record: carry its change over to the new one.
      rebased(s, storedData(c, fresh), fresh.version);
      const json = checkSize(c, s.data);
      const moved = await store
        .update({ key, data: s.data, expiresAt: expiryOf(c, s.data, now), expectedVersion: written, now, json })
        .catch(rethrowUnavailable);
      if (moved.status !== 'ok') return await giveUp('revoked');
      written = moved.version;
    }
  } catch (err) {
    if (err instanceof StoreUnavailableError) await store.delete(key).catch(noop); // best effort: the old record is intact
    throw err;
  }
  return giveUp('revoked');
}
