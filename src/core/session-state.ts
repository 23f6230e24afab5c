// The state of one session during one request, and the changes a request makes (internal).
import type { SessionData } from './codec.js';
import type { RequestLike } from './cookie.js';
import type { MigratedSession } from './migrate.js';

/** One change made by this request, replayed onto a fresher record when a commit conflicts. */
export type Op =
  | { kind: 'set'; key: string; value: unknown }
  | { kind: 'delete'; key: string }
  | { kind: 'modify'; key: string; fn: (current: any) => unknown }
  | { kind: 'clear' }
  | { kind: 'flash'; key: string; value: unknown }
  | { kind: 'unflash'; key: string };

/** The mutable state of one session during one request. */
export interface SessionState {
  data: SessionData;
  key: string | null;
  /** The version of the stored record this request loaded or last wrote (0: none). */
  version: number;
  /** Changes since the last write, replayed on a conflict (null: none; allocated on the first). */
  ops: Op[] | null;
  /** JSON of object values handed out by reads, to detect nested changes at commit. */
  snapshots: Map<string, string> | null;
  accessed: boolean;
  modified: boolean;
  /** The request carried the session cookie. */
  hadCookie: boolean;
  /** The request's cookie named no live session; until the session is looked at, it is not empty (Django). */
  unresolvedCookie: boolean;
  /** The request the session was loaded for: `login` reads its user agent and address. */
  request: RequestLike;
  /** When the stored session was last seen (write or touch), as the store said at load; null: unknown or new. */
  lastSeenAt: number | null;
  /** A previous system's session this one was made from (`migrate`), until it is saved. */
  migrated: MigratedSession | null;
  /**
   * The stored session this request loaded is gone for it: `revoked` (flushed, revoked or expired
   * elsewhere) or `replaced` (its key was replaced by `login`/`cycleKey` moments ago). The session
   * is empty, every later change is refused, and the commit writes nothing; a replaced key's
   * response carries no session cookie at all, so it never overwrites the new one.
   */
  lost: 'revoked' | 'replaced' | null;
  /** The key was made by a write before the commit (`save`, `cycleKey`): the commit sends its cookie. */
  cookieDue: boolean;
  /** For a replaced key: the public id of the session that replaced it (a logout ends that one too). */
  replacedBy: string | null;
}
