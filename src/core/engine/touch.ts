// Touches: an unmodified request refreshes expiry and last-seen time at most every touchInterval.
import { capExpiry, userIdOf } from '../accounts.js';
import { EXPIRY_KEY, expiresAt } from '../expiry.js';
import type { SessionState } from '../session.js';
import { type Core, MAX_TOUCHES_KEPT } from './core.js';

/** Whether this unmodified request should refresh the stored expiry and last-seen time. */
export function touchDue(c: Core, s: SessionState): boolean {
  if (s.key === null || s.lastSeenAt === null || c.server?.touch === undefined || c.noTouch) return false;
  const interval = c.o.accounts.touchInterval * 1000;
  const now = c.now();
  if (now - s.lastSeenAt < interval) return false;
  // Parallel requests loaded the same last-seen time: the first one touches for all of them.
  const recent = c.touchedAt.get(s.key);
  return recent === undefined || now - recent >= interval;
}

/** A touch that fails is logged, not answered: the request itself succeeded. */
export async function touchSession(c: Core, s: SessionState): Promise<void> {
  const now = c.now();
  const until = capExpiry(expiresAt(s.data[EXPIRY_KEY], c.maxAge, now), s.data, now, c.o.accounts);
  s.lastSeenAt = now;
  const touched = c.touchedAt;
  if (touched.size >= MAX_TOUCHES_KEPT) {
    const interval = c.o.accounts.touchInterval * 1000;
    for (const [key, at] of touched) if (now - at >= interval || touched.size >= MAX_TOUCHES_KEPT) touched.delete(key);
  }
  touched.set(s.key!, now);
  try {
    await c.server!.touch!(s.key!, until, now, userIdOf(s.data));
  } catch (err) {
    c.logger.warn('could not refresh the session expiry (touch)', { error: String((err as Error)?.message ?? err) });
  }
}
