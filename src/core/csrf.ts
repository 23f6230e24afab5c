// CSRF protection, framework-neutral: every adapter's `csrfProtection` is a thin translation of its
// framework's request to `checkCsrf`. The decision follows Go 1.25's http.CrossOriginProtection
// (https://words.filippo.io/csrf/): Fetch Metadata first, then Origin, and the session's token
// (Django's CSRF_USE_SESSIONS, masked as Django masks it) only where a request carries neither.
import { CSRF_KEY } from './accounts.js';
import { csrfTokenMatches } from './csrf-token.js';
import { ConfigError } from './errors.js';
import { engineOf, Session, stateOf } from './session.js';

/** The form field a token is posted in. */
export const CSRF_FIELD = 'csrf_token';
/** The request header a token is sent in (scripts, fetch). */
export const CSRF_HEADER = 'x-csrf-token';
/** The most bytes of a body `csrfProtection` reads to find the `csrf_token` field (1 MiB). */
export const MAX_CSRF_BODY_BYTES = 1024 * 1024;

/** The session's stored secret, without making one. */
export function storedCsrfToken(session: Session<any>): string | null {
  const data = stateOf(session).data;
  const token = Object.hasOwn(data, CSRF_KEY) ? data[CSRF_KEY] : undefined;
  return typeof token === 'string' && token !== '' ? token : null;
}

/**
 * Whether `token` is one of this session's CSRF tokens (`session.csrfToken()`, any of its masked
 * values), compared in constant time. False when the session holds none, when `token` is not a
 * string, and for a token of another session.
 */
export function verifyCsrfToken(session: Session<any>, token: unknown): boolean {
  const secret = storedCsrfToken(session);
  if (secret === null || typeof token !== 'string' || token === '') return false;
  return csrfTokenMatches(secret, token);
}

/** The options of every adapter's `csrfProtection` (each adds `onRefused` in its framework's shape). */
export interface CsrfOptions {
  /**
   * Other origins whose pages may send unsafe requests here, as full origins (scheme, host and
   * port), e.g. `['https://shop.example.com']`. The request's own origin is always trusted.
   * @default []
   */
  trustedOrigins?: readonly string[];
  /**
   * Whether the request's own origin comes from `X-Forwarded-Proto` and `X-Forwarded-Host`:
   * true trusts their first entry, a number N the entry added by the Nth proxy from the server
   * (as `createSessions`' `trustProxy` reads X-Forwarded-For). Only behind a proxy that sets
   * them. @default the `trustProxy` given to `createSessions` (false there: the Host header and
   * the connection's own scheme)
   */
  trustProxy?: boolean | number;
}

/** CsrfOptions checked once, when the middleware is made. */
export interface ResolvedCsrfOptions {
  trusted: ReadonlySet<string>;
  /** undefined: the session's own (createSessions' `trustProxy`). */
  trustProxy: boolean | number | undefined;
}

/** `options` with `trustProxy` from `sessions` (createSessions' option) when the middleware was given none. */
export function withTrustProxyOf(options: ResolvedCsrfOptions, sessions: unknown): ResolvedCsrfOptions {
  if (options.trustProxy !== undefined) return options;
  const fromSessions = (sessions as { trustProxy?: unknown } | null | undefined)?.trustProxy;
  return { ...options, trustProxy: typeof fromSessions === 'boolean' || typeof fromSessions === 'number' ? fromSessions : false };
}

/** What `checkCsrf` needs of a request: every adapter translates its framework's request to this. */
export interface CsrfRequest {
  method: string;
  /** A request header by lower-case name. */
  header(name: string): string | null | undefined;
  /** The scheme the request reached this server with, `http` or `https` (before any proxy header). */
  protocol: string;
  /** The host (and port) the request was addressed to (the Host header), before any proxy header. */
  host: string | null | undefined;
}

/** Why `checkCsrf` refused a request. */
export type CsrfRefusalReason = 'cross-site' | 'origin' | 'token' | 'too-large';

/** What `checkCsrf` decided: let the request through, or refuse it (status 403, or 413 for a body over 1 MiB). */
export type CsrfVerdict = { ok: true } | { ok: false; status: 403 | 413; reason: CsrfRefusalReason; message: string };

/** What the adapters answer a refused request with by default (status 403, text/plain). */
export const CSRF_REFUSED_TEXT =
  'Forbidden: this form was sent from another site, or without its CSRF token. Go back, reload the page and try again.\n';
/** The default answer to a form too large to look for its token in (status 413). */
export const CSRF_TOO_LARGE_TEXT = 'Payload Too Large: the form is over 1 MiB.\n';

const OK: CsrfVerdict = Object.freeze({ ok: true });
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Whether a method is one the CSRF check lets through without looking (GET, HEAD, OPTIONS, TRACE). */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** Resolves CsrfOptions once (when the middleware is made); ConfigError for a bad option. */
export function resolveCsrfOptions(options: CsrfOptions = {}): ResolvedCsrfOptions {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('csrfProtection', 'takes an options object, e.g. { trustedOrigins: [] }');
  const list = options.trustedOrigins ?? [];
  if (!Array.isArray(list)) throw new ConfigError('trustedOrigins', 'give an array of origins, e.g. ["https://shop.example.com"]');
  const trusted = new Set<string>();
  for (const origin of list) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {}
    if (parsed === null || parsed.origin === 'null' || `${parsed.origin}/` !== parsed.href) {
      throw new ConfigError(
        'trustedOrigins',
        `${JSON.stringify(origin)} is not an origin (scheme, host and optional port, no path); give e.g. "https://shop.example.com"`,
      );
    }
    trusted.add(parsed.origin);
  }
  const trustProxy = options.trustProxy;
  if (trustProxy !== undefined && typeof trustProxy !== 'boolean' && !(Number.isInteger(trustProxy) && trustProxy > 0)) {
    throw new ConfigError('trustProxy', `expected true, false or the number of proxies in front of the server, got ${String(trustProxy)}`);
  }
  return { trusted, trustProxy };
}

/** The entry of a comma-separated X-Forwarded-* header that `trustProxy` trusts, or null. */
function forwarded(value: string | null | undefined, trustProxy: boolean | number): string | null {
  if (trustProxy === false || !value) return null;
  const hops = value
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (hops.length === 0) return null;
  return trustProxy === true ? hops[0]! : (hops[Math.max(0, hops.length - trustProxy)] ?? null);
}

/**
 * The request's own origin (scheme, host and port) as the browser addressed it: the scheme and
 * Host the server received, or behind a proxy what `trustProxy` lets X-Forwarded-Proto and
 * X-Forwarded-Host say. Null when there is no host.
 */
export function requestOrigin(request: CsrfRequest, trustProxy: boolean | number = false): string | null {
  const scheme = forwarded(request.header('x-forwarded-proto'), trustProxy) ?? request.protocol;
  const host = forwarded(request.header('x-forwarded-host'), trustProxy) ?? request.host;
  if (typeof host !== 'string' || host === '' || !/^https?$/i.test(scheme.replace(/:$/, ''))) return null;
  try {
    const url = new URL(`${scheme.replace(/:$/, '').toLowerCase()}://${host}`);
    return url.host === host.toLowerCase() || url.host === host.toLowerCase().replace(/:(80|443)$/, '') ? url.origin : null;
  } catch {
    return null;
  }
}

/** The serialized origin of an Origin header, or null for `null`, garbage, or anything with a path. */
function originOf(value: string): string | null {
  try {
    const url = new URL(value);
    return url.origin !== 'null' && `${url.origin}/` === url.href ? url.origin : null;
  } catch {
    return null;
  }
}

const refused = (reason: CsrfRefusalReason, message: string): CsrfVerdict => ({ ok: false, status: 403, reason, message });

/**
 * Steps 1 and 2 of the check, on headers alone: a verdict, or null when the request carries
 * neither Sec-Fetch-Site nor Origin (then the session's token decides).
 */
export function checkCsrfHeaders(request: CsrfRequest, options: ResolvedCsrfOptions): CsrfVerdict | null {
  if (isSafeMethod(request.method)) return OK;
  const site = request.header('sec-fetch-site');
  const origin = request.header('origin');
  const trusted = () => {
    const o = origin ? originOf(origin) : null;
    return o !== null && options.trusted.has(o);
  };
  if (site) {
    const value = site.trim().toLowerCase();
    if (value === 'same-origin' || value === 'none') return OK;
    return trusted() ? OK : refused('cross-site', `the request comes from a page of another site (Sec-Fetch-Site: ${value})`);
  }
  if (origin !== null && origin !== undefined) {
    const claimed = originOf(origin);
    if (claimed !== null && (claimed === requestOrigin(request, options.trustProxy ?? false) || options.trusted.has(claimed))) return OK;
    return refused('origin', `the request comes from another origin (Origin: ${origin.slice(0, 100)})`);
  }
  return null;
}

/** Step 3: the token a request without Sec-Fetch-Site and Origin carries, against the session's. */
export function checkCsrfToken(session: Session<any>, token: unknown): CsrfVerdict {
  if (storedCsrfToken(session) === null || verifyCsrfToken(session, token)) return OK;
  return refused('token', `the request carries no matching CSRF token (${CSRF_FIELD} field or X-CSRF-Token header)`);
}

/** What a form-token reader answers when the body is over MAX_CSRF_BODY_BYTES. */
export const BODY_TOO_LARGE: unique symbol = Symbol('sessionkit.bodyTooLarge');

const TOO_LARGE: CsrfVerdict = Object.freeze({
  ok: false,
  status: 413,
  reason: 'too-large',
  message: 'the form is over 1 MiB, too large to look for its CSRF token',
} as const);

/**
 * The CSRF decision for one request, which every adapter's `csrfProtection` wraps, and what to
 * call when writing one for another framework. For POST, PUT, PATCH and DELETE:
 * 1. `Sec-Fetch-Site: same-origin` or `none` passes; any other value is refused unless the
 *    `Origin` is a trusted origin;
 * 2. without Sec-Fetch-Site, an `Origin` passes only when it is the request's own origin (scheme,
 *    host and port) or a trusted one; `null` and every other origin is refused;
 * 3. with neither header, a session holding a CSRF secret needs one of its tokens, from the
 *    X-CSRF-Token header, else from `readFormToken()` (the `csrf_token` field, read only then, and
 *    never past 1 MiB: it answers `BODY_TOO_LARGE` beyond). A session with no secret passes.
 * `session` may be a function that loads it, called only in step 3. Synchronous unless step 3
 * reads a body or loads the session.
 */
export function checkCsrf(
  session: Session<any> | null | (() => Session<any> | null | Promise<Session<any> | null>),
  request: CsrfRequest,
  options: ResolvedCsrfOptions,
  readFormToken?: () => unknown,
): CsrfVerdict | Promise<CsrfVerdict> {
  const byHeaders = checkCsrfHeaders(
    request,
    options.trustProxy === undefined && session instanceof Session ? withTrustProxyOf(options, engineOf(session)) : options,
  );
  if (byHeaders !== null) return byHeaders;
  const s = typeof session === 'function' ? session() : session;
  if (s instanceof Promise) return s.then((loaded) => tokenStep(loaded, request, readFormToken));
  return tokenStep(s, request, readFormToken);
}

function tokenStep(session: Session<any> | null, request: CsrfRequest, readFormToken?: () => unknown): CsrfVerdict | Promise<CsrfVerdict> {
  if (session === null || storedCsrfToken(session) === null) return OK;
  const header = request.header(CSRF_HEADER);
  if (header) return checkCsrfToken(session, header);
  const field = readFormToken?.();
  const decide = (value: unknown) => (value === BODY_TOO_LARGE ? TOO_LARGE : checkCsrfToken(session, value));
  return field instanceof Promise ? field.then(decide, () => checkCsrfToken(session, undefined)) : decide(field);
}

const FORM_TYPES = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

/** Whether a Content-Type is an HTML form's (urlencoded or multipart). */
export function isFormType(contentType: string | null | undefined): boolean {
  return FORM_TYPES.test(contentType ?? '');
}

/**
 * A fetch `Request` as a CsrfRequest: the Host header the browser sent (frameworks such as Next.js
 * build `request.url` from their own idea of the host), else the URL's host; the URL's scheme.
 */
export function webCsrfRequest(request: Request): CsrfRequest {
  let protocol = 'http';
  let host: string | null = request.headers.get('host');
  try {
    const url = new URL(request.url);
    protocol = url.protocol.slice(0, -1);
    host ??= url.host;
  } catch {}
  return { method: request.method, header: (name) => request.headers.get(name), protocol, host };
}

/**
 * The `csrf_token` field of a fetch Request's form body, read from a clone (the handler can still
 * read the body), never past MAX_CSRF_BODY_BYTES: `BODY_TOO_LARGE` beyond (the rest is not read).
 */
export async function readWebFormToken(request: Request): Promise<unknown> {
  const type = request.headers.get('content-type');
  if (!isFormType(type) || request.body === null || request.bodyUsed) return undefined;
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_CSRF_BODY_BYTES) return BODY_TOO_LARGE;
  const reader = request.clone().body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_CSRF_BODY_BYTES) {
      // not awaited: a branch of a tee settles its cancel only once the other branch is cancelled too
      reader.cancel().catch(() => {});
      return BODY_TOO_LARGE;
    }
    chunks.push(value);
  }
  return formField(chunks, size, type!);
}

/** The `csrf_token` field of a form body read into `chunks` (urlencoded or multipart). */
export async function formField(chunks: readonly Uint8Array[], size: number, contentType: string): Promise<unknown> {
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  try {
    return (await new Response(body, { headers: { 'content-type': contentType } }).formData()).get(CSRF_FIELD);
  } catch {
    return undefined; // a body that is not the form it says: no token
  }
}

/** The default refusal as a fetch Response: 403 (or 413) with a short text. */
export function csrfRefusal(verdict?: CsrfVerdict): Response {
  const status = verdict && !verdict.ok ? verdict.status : 403;
  return new Response(status === 413 ? CSRF_TOO_LARGE_TEXT : CSRF_REFUSED_TEXT, {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', ...(status === 413 ? { Connection: 'close' } : {}) },
  });
}

/** A refusal: the verdict of a refused request, with its status, reason and message. */
export type CsrfRefusal = Extract<CsrfVerdict, { ok: false }>;

/**
 * `checkCsrf` for a fetch `Request` (the web-standard adapters: web, Hono, h3, React Router,
 * SvelteKit, Next): the token from the X-CSRF-Token header, else the form's `csrf_token` field.
 */
export function checkRequestCsrf(
  session: Session<any> | null | (() => Session<any> | null | Promise<Session<any> | null>),
  request: Request,
  options: ResolvedCsrfOptions,
): CsrfVerdict | Promise<CsrfVerdict> {
  if (isSafeMethod(request.method)) return OK;
  return checkCsrf(session, webCsrfRequest(request), options, () => readWebFormToken(request));
}
