// Tombstones: a replaced key remembers, for a few seconds, the session that replaced it.
import { REPLACED_FOR, REPLACED_KEY, SUCCESSOR_KEY, tombstoneKey } from '../accounts.js';
import { digestKey, isWellFormedKey } from '../keys.js';
import type { SessionData } from '../codec.js';
import { type Core, rethrowUnavailable } from './core.js';

/** Why the record under `key` is gone: replaced by login/cycleKey moments ago (its tombstone says so), or ended. */
export async function whyGone(c: Core, key: string): Promise<'revoked' | 'replaced'> {
  return (await successorOf(c, digestKey(key), c.now())) === null ? 'revoked' : 'replaced';
}

/** The public id of the session that replaced the session `id` moments ago, if any. */
export async function successorOf(c: Core, id: string, now: number): Promise<string | null> {
  const tomb = await c.server!.load(tombstoneKey(id), now).catch(rethrowUnavailable);
  const successor = tomb?.data[REPLACED_KEY];
  return typeof successor === 'string' && successor !== '' ? successor : null;
}

/**
 * Ends the session that replaced the session `id` moments ago, if any: by its key where the
 * store keeps keys in clear anyway (DjangoStore), else by its public id.
 */
export async function endReplacement(c: Core, id: string, now: number): Promise<void> {
  const store = c.server!;
  const tomb = await store.load(tombstoneKey(id), now).catch(rethrowUnavailable);
  const key = tomb?.data[SUCCESSOR_KEY];
  if (typeof key === 'string' && isWellFormedKey(key)) return store.delete(key).catch(rethrowUnavailable);
  const successor = tomb?.data[REPLACED_KEY];
  if (typeof successor === 'string' && successor !== '' && store.revoke) await store.revoke(successor).catch(rethrowUnavailable);
}

/** Two rotations of one key raced and the other one wrote the tombstone first: this one won, so it names this one's key. */
export async function pointTombstone(c: Core, tombKey: string, tomb: SessionData, now: number): Promise<void> {
  const store = c.server!;
  const found = await store.load(tombKey, now);
  if (found !== null && found.data[REPLACED_KEY] !== tomb[REPLACED_KEY]) {
    await store.update({ key: tombKey, data: tomb, expiresAt: now + REPLACED_FOR * 1000, expectedVersion: found.version, now });
  }
}
