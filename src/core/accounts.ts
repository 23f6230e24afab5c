// Accounts and devices: who a session belongs to, where it was signed in, and the limits on its life.
import type { SessionData } from './codec.js';
import { ConfigError, SessionDataError } from './errors.js';
import { type RequestLike, requestHeader } from './cookie.js';
import { digestKey } from './keys.js';
import { isDeviceBound } from './device-bound.js';

/**
 * The reserved key under which a session keeps its account record (as Django keeps
 * `_session_expiry`): `{ since, user?, userAgent?, ip? }`. `login` writes it; `flush` and `clear`
 * remove it with everything else. Stores index sessions by its `user`.
 */
export const META_KEY = '_session_meta';

/**
 * The reserved key that marks a replaced record (a tombstone): `login`/`cycleKey` leave the old
 * key holding `{ _session_replaced: <public id of the new key> }` for REPLACED_FOR seconds, so a
 * request still carrying it (a page's parallel requests during a login) is told apart from an
 * unknown key and never overwrites the new cookie; `''` marks a record that a logout is ending.
 */
export const REPLACED_KEY = '_session_replaced';

/** In a tombstone, on a store that keeps keys in clear (DjangoStore): the key that replaced it, so a logout can end it. */
export const SUCCESSOR_KEY = '_session_successor';

/** How long, in seconds, a replaced key is remembered (the tombstone's lifetime). */
export const REPLACED_FOR = 10;

/**
 * Where the tombstone of a replaced session is kept, so that it outlives the old record (Django's
 * cycle_key deletes that): a key derived from the old session's public id, so that a request with
 * the old key and a revoke by id both find it; well formed, never a live session's.
 */
export function tombstoneKey(id: string): string {
  return digestKey(`replaced:${id}`).slice(0, 32);
}

/** Whether stored data is a tombstone (see REPLACED_KEY), not a session. */
export function isTombstone(data: SessionData): boolean {
  return Object.hasOwn(data, REPLACED_KEY);
}

/** Why a tombstone's session is gone for a request that carries its key: a logout is ending it (`''`), or login/cycleKey replaced it. */
export function tombstoneReason(data: SessionData): 'revoked' | 'replaced' {
  return data[REPLACED_KEY] === '' ? 'revoked' : 'replaced';
}

/** The reserved key of the session's CSRF token (Django's, with CSRF_USE_SESSIONS); see csrf.ts. */
export const CSRF_KEY = '_csrftoken';

/** What `login` records in the session (times in milliseconds since the epoch). */
export interface SessionMeta {
  /** When the session was signed in (or created, for the absolute timeout of an anonymous session). */
  since: number;
  user?: string;
  userAgent?: string | null;
  ip?: string | null;
}

/** One of a user's live sessions, as `sessions.listUserSessions` gives it (`null` where unknown). */
export interface UserSession {
  /** The public id (`session.id`): safe to show and to post back to `revokeSession`, never usable as a key. */
  id: string;
  /** The user `login` bound the session to. */
  userId: string;
  /** When the session was signed in (`login`). */
  createdAt: Date | null;
  /** When a request last came with this session (a write, or a touch at most every `touchInterval`). */
  lastSeenAt: Date | null;
  /** When the session ends if no request comes. */
  expiresAt: Date;
  /** The User-Agent header at login (at most 512 characters). */
  userAgent: string | null;
  /** The client address at login: the socket's, or from X-Forwarded-For with `trustProxy`. */
  ip: string | null;
  /** Whether the session is bound to a key on its device (`deviceBound`): a copy of its cookie is useless elsewhere. */
  deviceBound: boolean;
}

/** A session as a store's user index finds it. */
export interface IndexedSession {
  /** The public id: the digest the store keeps instead of the key. */
  id: string;
  data: SessionData;
  expiresAt: number;
  /** When a request last came with this session (a write or a touch); null when the store does not know. */
  lastSeenAt: number | null;
}

/** The account record of stored data, or null when there is none or it is not one. */
export function metaOf(data: SessionData): SessionMeta | null {
  const meta = Object.hasOwn(data, META_KEY) ? data[META_KEY] : undefined;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return null;
  return typeof (meta as SessionMeta).since === 'number' ? (meta as SessionMeta) : null;
}

/** The user a stored session belongs to, or null: what stores index by. */
export function userIdOf(data: SessionData): string | null {
  const user = metaOf(data)?.user;
  return typeof user === 'string' && user !== '' ? user : null;
}

/** The longest user id `login` takes (SQL stores keep it in an indexed column). */
export const MAX_USER_ID_LENGTH = 255;

export function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId === '' || userId.length > MAX_USER_ID_LENGTH) {
    throw new SessionDataError(
      `login(userId) takes the user's id as a non-empty string of at most ${MAX_USER_ID_LENGTH} characters (e.g. String(user.id)), got ${typeof userId === 'string' ? `a string of ${userId.length}` : typeof userId}`,
    );
  }
  return userId;
}

const MAX_USER_AGENT = 512;

/**
 * The client's user agent and address. The address is the socket's, or, with `trustProxy`, the
 * one X-Forwarded-For names: `true` trusts the whole header (its first entry), a number N trusts
 * the N proxies nearest the server (the Nth entry from the right), as Express's `trust proxy`.
 */
export function clientOf(req: RequestLike, trustProxy: boolean | number): { userAgent: string | null; ip: string | null } {
  const agent = requestHeader(req, 'user-agent');
  const userAgent = agent ? agent.slice(0, MAX_USER_AGENT) : null;
  let ip: string | null = null;
  if (trustProxy !== false) {
    const hops = (requestHeader(req, 'x-forwarded-for') ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    if (hops.length > 0) ip = trustProxy === true ? hops[0]! : (hops[Math.max(0, hops.length - trustProxy)] ?? null);
  }
  if (ip === null && req !== null && typeof req === 'object' && 'socket' in req) {
    ip = (req as { socket?: { remoteAddress?: string } }).socket?.remoteAddress ?? null;
  }
  return { userAgent, ip: ip === null ? null : ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1').slice(0, 64) };
}

/** The options of createSessions this file adds, resolved. */
export interface AccountOptions {
  /** Seconds without a request before a session ends; null: no idle timeout. */
  idleTimeout: number | null;
  /** Seconds from login (or creation) after which a session ends; null: none. */
  absoluteTimeout: number | null;
  /** Seconds between two touches of an unmodified session. */
  touchInterval: number;
  maxSessionsPerUser: number | null;
  trustProxy: boolean | number;
}

function seconds(option: string, value: unknown, example: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    throw new ConfigError(option, `give a positive whole number of seconds (e.g. ${example}), got ${String(value)}`);
  return value;
}

/** Checks the account options once, at createSessions. */
export function resolveAccountOptions(o: {
  idleTimeout?: unknown;
  absoluteTimeout?: unknown;
  touchInterval?: unknown;
  maxSessionsPerUser?: unknown;
  trustProxy?: unknown;
}): AccountOptions {
  const idleTimeout = seconds('idleTimeout', o.idleTimeout, '1800 for 30 minutes');
  const absoluteTimeout = seconds('absoluteTimeout', o.absoluteTimeout, '43200 for 12 hours');
  let touchInterval = 60;
  if (o.touchInterval !== undefined) {
    if (typeof o.touchInterval !== 'number' || !Number.isInteger(o.touchInterval) || o.touchInterval < 0)
      throw new ConfigError('touchInterval', `give whole seconds, 0 or more (e.g. 60), got ${String(o.touchInterval)}`);
    touchInterval = o.touchInterval;
  }
  if (idleTimeout !== null && touchInterval >= idleTimeout) {
    throw new ConfigError(
      'touchInterval',
      `${touchInterval} seconds is not shorter than idleTimeout (${idleTimeout}): a session in use would end between two touches; give a touchInterval well below idleTimeout`,
    );
  }
  const max = o.maxSessionsPerUser;
  if (max !== undefined && max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max < 1))
    throw new ConfigError('maxSessionsPerUser', `give a whole number of sessions, 1 or more (e.g. 5), got ${String(max)}`);
  const trust = o.trustProxy ?? false;
  if (typeof trust !== 'boolean' && !(typeof trust === 'number' && Number.isInteger(trust) && trust >= 1))
    throw new ConfigError(
      'trustProxy',
      `give true (trust X-Forwarded-For), false, or the number of proxies in front of the server, got ${JSON.stringify(trust)}`,
    );
  return { idleTimeout, absoluteTimeout, touchInterval, maxSessionsPerUser: (max as number | undefined) ?? null, trustProxy: trust };
}

/** The stored expiry, shortened by the idle and absolute timeouts. */
export function capExpiry(until: number, data: SessionData, now: number, o: AccountOptions): number {
  let at = until;
  if (o.idleTimeout !== null) at = Math.min(at, now + o.idleTimeout * 1000);
  if (o.absoluteTimeout !== null) at = Math.min(at, (metaOf(data)?.since ?? now) + o.absoluteTimeout * 1000);
  return at;
}

/** A stored session as `listUserSessions` shows it. */
export function toUserSession(found: IndexedSession, userId: string): UserSession {
  const meta = metaOf(found.data);
  return {
    id: found.id,
    userId,
    createdAt: meta ? new Date(meta.since) : null,
    lastSeenAt: found.lastSeenAt === null ? null : new Date(found.lastSeenAt),
    expiresAt: new Date(found.expiresAt),
    userAgent: typeof meta?.userAgent === 'string' ? meta.userAgent : null,
    ip: typeof meta?.ip === 'string' ? meta.ip : null,
    deviceBound: isDeviceBound(found.data),
  };
}

/** Most recently seen first; unknown last-seen times after known ones, then the newest sign-in first. */
export function byLastSeen(a: UserSession, b: UserSession): number {
  const seen = (b.lastSeenAt?.getTime() ?? -1) - (a.lastSeenAt?.getTime() ?? -1);
  return seen !== 0 ? seen : (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0);
}
