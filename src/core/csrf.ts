// CSRF tokens kept in the session (Django's CSRF_USE_SESSIONS) and the framework-neutral check the
// adapters' middleware wraps. https://owasp.org/www-community/attacks/csrf
import { timingSafeEqual } from './crypto.js';
import { CSRF_KEY } from './accounts.js';
import { ConfigError } from './errors.js';
import type { Session } from './session.js';
import { stateOf } from './session.js';

/** The form field a token is posted in. */
export const CSRF_FIELD = 'csrf_token';
/** The request header a token is sent in (scripts, fetch). */
export const CSRF_HEADER = 'x-csrf-token';

/** The token a session holds, without making one. */
export function storedCsrfToken(session: Session<any>): string | null {
  const data = stateOf(session).data;
  const token = Object.hasOwn(data, CSRF_KEY) ? data[CSRF_KEY] : undefined;
  return typeof token === 'string' && token !== '' ? token : null;
}

/**
 * Whether `token` is the session's CSRF token, compared in constant time. False when the session
 * holds none (a token is made by `session.csrfToken()`) or `token` is not a string.
 */
export function verifyCsrfToken(session: Session<any>, token: unknown): boolean {
  const expected = storedCsrfToken(session);
  if (expected === null || typeof token !== 'string') return false;
  return timingSafeEqual(expected, token);
}

/** What the CSRF check needs of a request: every adapter translates its framework's request to this. */
export interface CsrfRequest {
  method: string;
  /** The Host header (the server's own host and port as the browser addressed it). */
  host: string | null | undefined;
  origin: string | null | undefined;
  referer: string | null | undefined;
  /** The token the request carries: the X-CSRF-Token header, else the csrf_token form field. */
  token: string | null | undefined;
}

/** The options of every adapter's `csrfProtection`. */
export interface CsrfOptions {
  /**
   * Other origins whose forms may post here, e.g. `['https://shop.example.com']` (a front end on
   * another host). The server's own origin (the Host header) is always trusted. @default []
   */
  trustedOrigins?: readonly string[];
}

/** What `checkCsrf` decided: let the request through, or refuse it (403) for a missing origin match or token. */
export type CsrfVerdict = { ok: true } | { ok: false; reason: 'origin' | 'token'; message: string };

/** What the adapters answer a refused request with (status 403, text/plain). */
export const CSRF_REFUSED_TEXT =
  'Forbidden: this form was sent from another site, or without its CSRF token. Go back, reload the page and try again.\n';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * A CsrfRequest from a request's method and a header getter (any framework's), with the token of
 * the X-CSRF-Token header, else `formToken` (the parsed `csrf_token` field, when the body was a form).
 */
export function csrfRequest(method: string, header: (name: string) => string | null | undefined, formToken?: unknown): CsrfRequest {
  return {
    method,
    host: header('host'),
    origin: header('origin'),
    referer: header('referer'),
    token: header(CSRF_HEADER) ?? (typeof formToken === 'string' ? formToken : null),
  };
}

const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/**
 * `checkCsrf` for a fetch `Request` (web-standard only: every fetch-style adapter wraps it). The
 * token is the X-CSRF-Token header, else the `csrf_token` field of a form body, read from a clone,
 * so the handler can still read the body.
 */
export async function checkRequestCsrf(session: Session<any>, request: Request, trustedOrigins?: Set<string>): Promise<CsrfVerdict> {
  if (isSafeMethod(request.method)) return { ok: true };
  const header = (name: string) => request.headers.get(name);
  let field: unknown;
  if (header(CSRF_HEADER) === null && FORM_TYPES.test(header('content-type') ?? '') && storedCsrfToken(session) !== null) {
    try {
      field = (await request.clone().formData()).get(CSRF_FIELD);
    } catch {
      field = undefined; // a body that is not the form it says: no token
    }
  }
  return checkCsrf(session, csrfRequest(request.method, header, field), trustedOrigins);
}

/** The 403 a fetch-style adapter answers a refused request with. */
export function csrfRefusal(): Response {
  return new Response(CSRF_REFUSED_TEXT, { status: 403, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

/** Whether a method is one the CSRF check lets through without looking (GET, HEAD, OPTIONS, TRACE). */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** Resolves CsrfOptions once (when the middleware is made). */
export function resolveCsrfOptions(options: CsrfOptions = {}): Set<string> {
  const trusted = new Set<string>();
  for (const origin of options.trustedOrigins ?? []) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError('trustedOrigins', `${JSON.stringify(origin)} is not an origin; give e.g. "https://shop.example.com"`);
    }
    trusted.add(parsed.origin);
  }
  return trusted;
}

function sameOrigin(value: string, host: string | null | undefined, trusted: Set<string>): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false; // "null" (a sandboxed or privacy-sensitive context) and garbage name no origin of ours
  }
  if (trusted.has(url.origin)) return true;
  return typeof host === 'string' && host !== '' && url.host === host.toLowerCase();
}

/**
 * The CSRF check of one request, framework-neutral: every adapter's `csrfProtection` middleware
 * wraps it, and it is what to call when writing one for another framework (answer a refusal with
 * 403 and `CSRF_REFUSED_TEXT`). A POST, PUT, PATCH or DELETE is refused when its `Origin` (or,
 * without one, its `Referer`) names another origin, or when the session holds a CSRF token and
 * the request carries no matching one. A visitor without a session holds no token, so only the
 * origin check guards their first POST; clients that send neither header (scripts) pass it.
 */
export function checkCsrf(session: Session<any>, request: CsrfRequest, trustedOrigins: Set<string> = new Set()): CsrfVerdict {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return { ok: true };
  const claimed = request.origin ?? request.referer;
  if (claimed !== null && claimed !== undefined && !sameOrigin(claimed, request.host, trustedOrigins)) {
    return {
      ok: false,
      reason: 'origin',
      message: `the request comes from ${request.origin ? 'another origin' : 'a page of another origin'}`,
    };
  }
  if (storedCsrfToken(session) !== null && !verifyCsrfToken(session, request.token)) {
    return {
      ok: false,
      reason: 'token',
      message: `the request carries no matching CSRF token (${CSRF_FIELD} field or X-CSRF-Token header)`,
    };
  }
  return { ok: true };
}
