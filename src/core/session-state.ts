// The state of one session during one request, and the changes a request makes (internal).
import { checkValue, emptyData, type SessionData } from './codec.js';
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

/** The reserved key listing the keys set by `flash`, which the next read removes. */
export const FLASH_KEY = '_flash';

/** Applies this request's changes, in order, to `data` (mutating it). */
export function replay(data: SessionData, ops: readonly Op[]): SessionData {
  for (const op of ops) {
    switch (op.kind) {
      case 'set':
        data[op.key] = op.value;
        break;
      case 'delete':
        delete data[op.key];
        break;
      case 'modify': {
        const value = op.fn(Object.hasOwn(data, op.key) ? data[op.key] : undefined);
        checkValue(op.key, value);
        data[op.key] = value;
        break;
      }
      case 'clear':
        for (const k of Object.keys(data)) delete data[k];
        break;
      case 'flash':
        data[op.key] = op.value;
        markFlash(data, op.key);
        break;
      case 'unflash':
        delete data[op.key];
        unmarkFlash(data, op.key);
        break;
    }
  }
  return data;
}

function markFlash(data: SessionData, key: string): void {
  const list = data[FLASH_KEY];
  if (!Array.isArray(list)) data[FLASH_KEY] = [key];
  else if (!list.includes(key)) data[FLASH_KEY] = [...list, key];
}

function unmarkFlash(data: SessionData, key: string): void {
  const list = data[FLASH_KEY];
  if (!Array.isArray(list)) return;
  const rest = list.filter((k) => k !== key);
  if (rest.length === 0) delete data[FLASH_KEY];
  else data[FLASH_KEY] = rest;
}

/** Sessions whose logout asked for `Clear-Site-Data: "cookies"` (`flush({ clearSiteData: true })`), until committed. */
export const clearSiteDataAsked = new WeakSet<SessionState>();

/** A request's state before anything is loaded. */
export function initialState(hadCookie: boolean): SessionState {
  return {
    data: emptyData(),
    key: null,
    version: 0,
    ops: null,
    snapshots: null,
    accessed: false,
    modified: false,
    hadCookie,
    unresolvedCookie: false,
    request: undefined,
    lastSeenAt: null,
    migrated: null,
    lost: null,
    cookieDue: false,
    replacedBy: null,
  };
}

/** The request's cookie named a live session: its data, key and version are this request's. */
export function loaded(s: SessionState, key: string, data: SessionData, version: number): void {
  s.data = data;
  s.key = key;
  s.version = version;
}

/** Made from a previous system's session (`migrate`): its data, to be saved under a new key. */
export function migrated(s: SessionState, data: SessionData, from: MigratedSession): void {
  s.data = data;
  s.modified = true;
  s.migrated = from;
}

/** The request's cookie named no live session (unknown, tampered, expired): a fresh one, not yet empty (Django). */
export function unresolved(s: SessionState): void {
  s.unresolvedCookie = true;
}

/** Written to the store (or sealed) under `key` at `version`: nothing left to save. */
export function saved(s: SessionState, key: string, version: number): void {
  s.lastSeenAt = null; // just written: nothing to touch
  s.key = key;
  s.version = version;
  s.ops = null;
  s.snapshots = null;
  s.modified = false;
  s.unresolvedCookie = false;
}

/** A conflicting write came first: this request's changes replayed on the fresh record. */
export function rebased(s: SessionState, data: SessionData, version: number): void {
  s.data = replay(data, s.ops ?? []);
  s.version = version;
}

/** Flushed (logout): no data, no key; a new key is made on the next save. */
export function reset(s: SessionState): void {
  s.data = emptyData();
  s.ops = null;
  s.snapshots = null;
  s.key = null;
  s.version = 0;
  s.unresolvedCookie = false;
  s.modified = true;
}

/** The loaded session is gone for this request (see `SessionState.lost`): empty, no key, nothing to save. */
export function lost(s: SessionState, why: 'revoked' | 'replaced'): void {
  reset(s);
  s.modified = false;
  s.cookieDue = false;
  s.lost = why;
}

/** To be saved at commit whatever else happened (a new key, a new expiry). */
export function dirty(s: SessionState): void {
  s.modified = true;
  s.unresolvedCookie = false;
}
