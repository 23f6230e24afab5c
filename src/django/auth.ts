import { timingSafeEqual, toHex } from '../core/crypto.js';
import { resolveSecret, saltedHmac, type Secret } from '../core/signing.js';

/** The session keys `django.contrib.auth.login()` writes. */
export const SESSION_KEY = '_auth_user_id';
export const BACKEND_SESSION_KEY = '_auth_user_backend';
export const HASH_SESSION_KEY = '_auth_user_hash';

/** The Django user a session is logged in as, as `django.contrib.auth` left it. */
export interface DjangoUser {
  /** The user's primary key, as Django stored it: a string (`str(user.pk)`). */
  id: string;
  /** The authentication backend's dotted path, e.g. `django.contrib.auth.backends.ModelBackend`. */
  backend: string;
  /** `user.get_session_auth_hash()` at login: an HMAC of the password hash (check it with verifyDjangoUserHash). */
  hash: string | null;
}

/** Anything that reads like a session: a sessionkit Session, or plain session data. */
export type SessionLike = { get(key: string): unknown } | Record<string, unknown>;

function read(session: SessionLike, key: string): unknown {
  const s = session as { get?: unknown };
  return typeof s.get === 'function' ? (session as { get(k: string): unknown }).get(key) : (session as Record<string, unknown>)[key];
}

/**
 * The logged-in Django user of a session, or null when nobody is logged in. This trusts the
 * session alone: to log the user out after a password change, as Django does, also check
 * `verifyDjangoUserHash` against the user's current password hash.
 */
export function djangoUser(session: SessionLike): DjangoUser | null {
  const id = read(session, SESSION_KEY);
  const backend = read(session, BACKEND_SESSION_KEY);
  if ((typeof id !== 'string' && typeof id !== 'number') || typeof backend !== 'string') return null;
  const hash = read(session, HASH_SESSION_KEY);
  return { id: String(id), backend, hash: typeof hash === 'string' ? hash : null };
}

const AUTH_HASH_SALT = 'django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash';

/** Django's `AbstractBaseUser.get_session_auth_hash()` for a password hash (the `auth_user.password` column). */
export function sessionAuthHash(passwordHash: string, secret: string): string {
  return toHex(saltedHmac(AUTH_HASH_SALT, passwordHash, secret));
}

/**
 * Whether the session's `_auth_user_hash` matches the user's current password hash, as
 * `django.contrib.auth.get_user()` checks it: in constant time, against the secret and then each
 * fallback (Django ≥ 4.1's SECRET_KEY_FALLBACKS). False means Django would flush the session:
 * the password changed since login (or the hash is missing).
 */
export function verifyDjangoUserHash(session: SessionLike, passwordHash: string, secret: Secret): boolean {
  const given = read(session, HASH_SESSION_KEY);
  if (typeof given !== 'string' || given === '' || typeof passwordHash !== 'string') return false;
  let ok = false;
  for (const key of resolveSecret(secret)) {
    if (timingSafeEqual(sessionAuthHash(passwordHash, key), given)) ok = true;
  }
  return ok;
}
