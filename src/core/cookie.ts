import { serialize } from './set-cookie.js';

/** The cookie options, validated once by createSessions (see CookieOptions). */
export interface ResolvedCookie {
  name: string;
  maxAge: number;
  domain: string | undefined;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite: 'lax' | 'strict' | 'none' | false;
  partitioned: boolean;
}

/** Anything that carries a Cookie header. */
export type RequestLike =
  | { headers: { get(name: string): string | null } } // web Request
  | { headers: { cookie?: string | string[] | undefined } } // node IncomingMessage
  | { get(name: string): string | null } // Headers
  | string
  | null
  | undefined;

/** The Cookie header of whatever `load` was given. */
export function cookieHeader(req: RequestLike): string | undefined {
  if (req === undefined || req === null) return undefined;
  if (typeof req === 'string') return req;
  if ('headers' in req) {
    const headers = req.headers as { get?: unknown; cookie?: string | string[] };
    if (typeof headers.get === 'function') return (headers.get as (n: string) => string | null)('cookie') ?? undefined;
    const c = headers.cookie;
    return Array.isArray(c) ? c.join('; ') : c;
  }
  if (typeof (req as { get?: unknown }).get === 'function') return (req as { get(n: string): string | null }).get('cookie') ?? undefined;
  return undefined;
}

/** A request header's value (repeated headers joined with `, `), from any RequestLike that carries headers. */
export function requestHeader(req: RequestLike, name: string): string | undefined {
  if (req === undefined || req === null || typeof req === 'string') return undefined;
  if ('headers' in req) {
    const headers = req.headers as { get?: unknown } & Record<string, string | string[] | undefined>;
    if (typeof headers.get === 'function') return (headers.get as (n: string) => string | null)(name) ?? undefined;
    const v = headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }
  if (typeof (req as { get?: unknown }).get === 'function') return (req as { get(n: string): string | null }).get(name) ?? undefined;
  return undefined;
}

/** The session cookie's value; a cheap scan first, so requests without it parse nothing. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || !header.includes(name)) return undefined;
  // The cookie library's parse, pair by pair, stopping at the first pair named `name` (the first
  // one wins there too) instead of building an object of every cookie the request carries.
  const len = header.length;
  let index = 0;
  while (index < len) {
    const eq = header.indexOf('=', index);
    if (eq === -1) break;
    let end = header.indexOf(';', index);
    if (end === -1) end = len;
    if (eq > end) {
      index = header.lastIndexOf(';', eq - 1) + 1; // a pair without '=': on to the one holding it
      continue;
    }
    let start = index;
    let stop = eq;
    while (start < stop && isBlank(header.charCodeAt(start))) start++;
    while (stop > start && isBlank(header.charCodeAt(stop - 1))) stop--;
    if (stop - start === name.length && header.startsWith(name, start)) return decodeValue(trimmed(header, eq + 1, end));
    index = end + 1;
  }
  return undefined;
}

const isBlank = (code: number) => code === 0x20 || code === 0x09;

function trimmed(text: string, from: number, to: number): string {
  while (from < to && isBlank(text.charCodeAt(from))) from++;
  while (to > from && isBlank(text.charCodeAt(to - 1))) to--;
  return text.slice(from, to);
}

/** As the cookie library decodes a value: percent-escapes when there are any and they are valid. */
function decodeValue(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** RFC 6265 §4.1.1 cookie-octet: session keys and signed tokens (`[A-Za-z0-9_.:-]`) are sent as is, as Django sends them. */
const COOKIE_OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const encodeValue = (v: string): string => (COOKIE_OCTETS.test(v) ? v : encodeURIComponent(v));

function attributes(cookie: ResolvedCookie) {
  return {
    domain: cookie.domain,
    path: cookie.path,
    secure: cookie.secure,
    httpOnly: cookie.httpOnly,
    sameSite: cookie.sameSite,
    partitioned: cookie.partitioned,
  };
}

/**
 * The attributes that never change for one set of cookie options, serialized (and validated) once
 * by the cookie library, so a commit only splices in the value, Max-Age and Expires, in the
 * library's attribute order: Max-Age, Domain, Path, Expires, HttpOnly, Secure, Partitioned, SameSite.
 */
interface Fixed {
  /** `; Domain=…; Path=…` */
  middle: string;
  /** `; HttpOnly; Secure; Partitioned; SameSite=…` */
  tail: string;
  deletion: string;
}
const fixedParts = new WeakMap<ResolvedCookie, Fixed>();

function fixedOf(cookie: ResolvedCookie): Fixed {
  let fixed = fixedParts.get(cookie);
  if (fixed === undefined) {
    const head = cookie.name.length + 2; // `name=v`
    const { domain, path, secure, httpOnly, sameSite, partitioned } = attributes(cookie);
    fixed = {
      middle: serialize(cookie.name, 'v', { domain, path }).slice(head),
      tail: serialize(cookie.name, 'v', { secure, httpOnly, sameSite, partitioned }).slice(head),
      deletion: serialize(cookie.name, '', { maxAge: 0, expires: new Date(0), ...attributes(cookie) }),
    };
    fixedParts.set(cookie, fixed);
  }
  return fixed;
}

// Expires has a resolution of one second: under load most commits reuse the last string.
let lastExpiresSecond = NaN;
let lastExpires = '';

/** The session cookie; without `maxAge` it lasts until the browser closes. */
export function sessionCookie(cookie: ResolvedCookie, value: string, maxAge: number | undefined, now: number): string {
  const fixed = fixedOf(cookie);
  if (maxAge === undefined) return `${cookie.name}=${encodeValue(value)}${fixed.middle}${fixed.tail}`;
  const at = now + maxAge * 1000;
  if (!Number.isInteger(maxAge) || !Number.isFinite(at)) {
    // what the library rejects, it rejects with its own TypeError
    return serialize(cookie.name, value, { encode: encodeValue, maxAge, expires: new Date(at), ...attributes(cookie) });
  }
  const second = Math.floor(at / 1000);
  if (second !== lastExpiresSecond) {
    lastExpires = new Date(at).toUTCString();
    lastExpiresSecond = second;
  }
  return `${cookie.name}=${encodeValue(value)}; Max-Age=${maxAge}${fixed.middle}; Expires=${lastExpires}${fixed.tail}`;
}

/** The options of a cookie to set, in the style of the `cookie` package's `serialize` options. */
export interface SessionCookieOptions {
  /** Whole seconds; absent for a cookie that lasts until the browser closes. */
  maxAge?: number;
  /** The same instant as `maxAge`, for clients that only read `Expires`. */
  expires?: Date;
  domain?: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  /** Absent when `cookie.sameSite` is false. */
  sameSite?: 'lax' | 'strict' | 'none';
  partitioned: boolean;
}

/** The session cookie taken apart: what `Set-Cookie` says, for frameworks that build the header themselves. */
export interface SessionCookie {
  name: string;
  /** Sent as is: session keys and signed values hold only cookie-safe characters. */
  value: string;
  options: SessionCookieOptions;
}

/** The cookie `sessionCookie` (or, with value '' and maxAge 0, `deletionCookie`) writes, as parts. */
export function cookieParts(cookie: ResolvedCookie, value: string, maxAge: number | undefined, now: number): SessionCookie {
  const options: SessionCookieOptions = {
    path: cookie.path,
    secure: cookie.secure,
    httpOnly: cookie.httpOnly,
    partitioned: cookie.partitioned,
  };
  if (maxAge !== undefined) {
    options.maxAge = maxAge;
    options.expires = new Date(now + maxAge * 1000);
  }
  if (cookie.domain !== undefined) options.domain = cookie.domain;
  if (cookie.sameSite !== false) options.sameSite = cookie.sameSite;
  return { name: cookie.name, value, options };
}

/** Checks the cookie options by serializing them once, as every commit will (the library's own validation). */
export function checkCookie(cookie: ResolvedCookie): void {
  fixedOf(cookie);
}

/** Expires the cookie with the same name, path and domain (Django's delete_cookie). */
export function deletionCookie(cookie: ResolvedCookie): string {
  return fixedOf(cookie).deletion;
}

/** Adds `Cookie` to a Vary header value, case-insensitively; `*` stays `*`. */
export function varyWithCookie(existing: string | undefined): string {
  if (!existing) return 'Cookie';
  const parts = existing.split(',').map((p) => p.trim().toLowerCase());
  if (parts.includes('*') || parts.includes('cookie')) return existing;
  return `${existing}, Cookie`;
}
