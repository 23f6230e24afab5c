import { SessionDataError } from './errors.js';

/**
 * Session expiry, worked out in one place: the Session getters, the commit path and the cookie
 * store all ask this module. A session's own expiry lives in its data under `_session_expiry`
 * (Django's `set_expiry`): a number of seconds of inactivity (0: until the browser closes) or an
 * ISO date; absent, the default age (`cookie.maxAge`) applies.
 */

/** The reserved key under which Django, and sessionkit, keep a per-session expiry. */
export const EXPIRY_KEY = '_session_expiry';

/**
 * The latest instant a session may expire: 9999-12-31T23:59:59Z, the last second an HTTP-date
 * (`Expires`, RFC 9110 §5.6.7: a four-digit year) and Python's `datetime` (Django) can carry.
 */
export const LATEST_EXPIRY = Date.UTC(9999, 11, 31, 23, 59, 59);

/**
 * The largest age in seconds that `cookie.maxAge` and `setExpiry(seconds)` take: 10^10 seconds
 * (about 317 years), so that any clock this side of the year 9600 gives a valid `Expires`.
 */
export const MAX_AGE_SECONDS = 10_000_000_000;

/** Django's `get_expiry_age`: seconds from `now`, floored. */
export function expiryAge(expiry: unknown, maxAge: number, now: number): number {
  if (typeof expiry === 'string') {
    const at = parseExpiry(expiry);
    if (at !== null) return Math.floor((at - now) / 1000);
  }
  if (typeof expiry === 'number' && expiry !== 0) return Math.max(-MAX_AGE_SECONDS, Math.min(MAX_AGE_SECONDS, expiry));
  return maxAge;
}

/**
 * The expiry instant in milliseconds: an absolute date as is, otherwise `now` + the age; kept
 * within [0, LATEST_EXPIRY] so that a stored row from elsewhere never yields an unwritable instant.
 */
export function expiresAt(expiry: unknown, maxAge: number, now: number): number {
  let at = now + maxAge * 1000;
  if (typeof expiry === 'string') at = parseExpiry(expiry) ?? at;
  else if (typeof expiry === 'number' && expiry !== 0) at = now + expiry * 1000;
  return Math.min(LATEST_EXPIRY, Math.max(at, 0));
}

/** Django's `get_expire_at_browser_close`: the session's own choice, else the global option. */
export function atBrowserClose(expiry: unknown, globalOption: boolean): boolean {
  return expiry === undefined || expiry === null ? globalOption : expiry === 0;
}

/** The cookie's Max-Age in whole seconds (never negative), or undefined for a browser-close cookie. */
export function cookieMaxAge(expiry: unknown, maxAge: number, expireAtBrowserClose: boolean, now: number): number | undefined {
  if (atBrowserClose(expiry, expireAtBrowserClose)) return undefined;
  const age = Math.floor(expiryAge(expiry, maxAge, now));
  return age > 0 ? Math.min(age, Math.floor((LATEST_EXPIRY - now) / 1000)) : 0;
}

/**
 * What `setExpiry(value)` stores under `_session_expiry`: whole seconds, or an absolute date as
 * Python writes it. Throws SessionDataError for anything an `Expires` attribute cannot carry.
 */
export function expiryValue(value: number | Date, now: number): number | string {
  if (value instanceof Date) {
    const at = value.getTime();
    if (Number.isNaN(at) || at < 0 || at > LATEST_EXPIRY) {
      throw new SessionDataError(
        `setExpiry got ${Number.isNaN(at) ? 'an invalid Date' : `the date ${value.toISOString()}`}; give a date between 1970 and 9999-12-31 (what a cookie's Expires can carry), seconds, or null`,
        EXPIRY_KEY,
      );
    }
    return toPythonIso(value);
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    const seconds = Math.trunc(value);
    if (Math.abs(seconds) <= MAX_AGE_SECONDS && now + seconds * 1000 <= LATEST_EXPIRY) return seconds;
    throw new SessionDataError(
      `setExpiry got ${value} seconds, beyond what a cookie's Expires can carry; give at most ${MAX_AGE_SECONDS} seconds (about 317 years), a Date, or null`,
      EXPIRY_KEY,
    );
  }
  throw new SessionDataError('setExpiry takes seconds (a finite number), a Date, or null', EXPIRY_KEY);
}

/** A stored `_session_expiry` that is a date: its instant, or null when it does not parse. */
export function parseExpiry(text: string): number | null {
  // Python writes up to microseconds; Date.parse wants at most milliseconds.
  const at = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(at) ? null : at;
}

/** A Date as Python's `datetime.isoformat()` writes an aware UTC datetime, which Django parses back. */
export function toPythonIso(date: Date): string {
  const iso = date.toISOString(); // 2030-01-01T00:00:00.123Z
  const ms = date.getUTCMilliseconds();
  return ms === 0 ? `${iso.slice(0, 19)}+00:00` : `${iso.slice(0, 23)}000+00:00`;
}
