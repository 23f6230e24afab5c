import { checkCookie, type ResolvedCookie } from './cookie.js';
import { type AccountOptions, resolveAccountOptions } from './accounts.js';
import { ConfigError } from './errors.js';
import { MAX_AGE_SECONDS } from './expiry.js';
import type { Logger } from './log.js';
import type { SessionMigration } from './migrate.js';
import type { SessionEventHandler } from './events.js';
import { consoleLogger } from './log.js';
import { checkCookieDomain } from './public-suffix.js';
import { type DeviceBoundOptions, type ResolvedDeviceBound, resolveDeviceBound } from './device-bound.js';

export type { ResolvedCookie } from './cookie.js';

/** The session cookie's attributes (`createSessions({ cookie })`); the defaults are Django's. */
export interface CookieOptions {
  /** The cookie's name [SESSION_COOKIE_NAME]. @default 'sessionid' */
  name?: string;
  /**
   * Default session age in whole seconds, also the cookie's Max-Age [SESSION_COOKIE_AGE]; at most
   * 10,000,000,000 (what a cookie's Expires can carry). @default 1209600 (two weeks)
   */
  maxAge?: number;
  /**
   * Domain attribute, e.g. '.example.com' to share with subdomains [SESSION_COOKIE_DOMAIN]: dot-separated
   * RFC 1034 labels (letters, digits, inner hyphens), with at most one leading dot. @default undefined (host only)
   */
  domain?: string;
  /** Path attribute [SESSION_COOKIE_PATH]: starts with '/', printable ASCII without ';' (RFC 6265 §4.1.1). @default '/' */
  path?: string;
  /** Send only over HTTPS [SESSION_COOKIE_SECURE]. @default false */
  secure?: boolean;
  /** Hide from page scripts [SESSION_COOKIE_HTTPONLY]. @default true */
  httpOnly?: boolean;
  /** SameSite attribute (RFC 6265bis §4.1.2.7); false omits it [SESSION_COOKIE_SAMESITE]. @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none' | false;
  /** Partitioned attribute (CHIPS). @default false */
  partitioned?: boolean;
}

/** The options of `createSessions`; every one is checked there, once. */
export interface SessionsOptions<S> {
  /** Where sessions live. @default new SqliteStore({ path: './sessions.sqlite3' }) */
  store?: S;
  /** The session cookie's name and attributes. */
  cookie?: CookieOptions;
  /** Save and re-send the cookie on every request, not only when modified [SESSION_SAVE_EVERY_REQUEST]. @default false */
  saveEveryRequest?: boolean;
  /** Sessions without their own expiry end when the browser closes [SESSION_EXPIRE_AT_BROWSER_CLOSE]. @default false */
  expireAtBrowserClose?: boolean;
  /** Where conflicts given up on and other events are reported. @default console */
  logger?: Logger;
  /** The clock, in milliseconds since the epoch; tests inject one. @default Date.now */
  clock?: () => number;
  /**
   * The largest session a server-side store is given, in bytes of encoded (JSON, UTF-8) data: a
   * commit over it is refused with SessionDataError before anything is written, so one visitor
   * cannot fill the store or block the server with a huge session. A positive whole number.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /**
   * Moves a visitor of a previous session system over on their first request without a sessionkit
   * cookie: their old data in a new session under a new key, the old record removed and the old
   * cookie expired. E.g. `fromExpressSession({ secret, store })` from `sessionkit/express-session`.
   * @default none
   */
  migrate?: SessionMigration;
  /**
   * Seconds without a request after which a session ends (OWASP's idle timeout), enforced by the
   * store: every write and touch moves the stored expiry to at most this far ahead. Needs a store
   * with a user index (every server-side store but DjangoStore). @default undefined (none)
   */
  idleTimeout?: number;
  /** Seconds from `login` (or, never signed in, from creation) after which a session ends whatever its activity. @default undefined (none) */
  absoluteTimeout?: number;
  /**
   * Seconds: a request that changes nothing refreshes the stored expiry and last-seen time at
   * most this often, without rewriting the data or counting as a conflicting write. 0 touches on
   * every request. @default 60
   */
  touchInterval?: number;
  /** At a `login` beyond this many sessions of the user, the least recently seen ones are revoked. @default undefined (no cap) */
  maxSessionsPerUser?: number;
  /**
   * Whether the client address `login` records comes from X-Forwarded-For: true trusts the header's
   * first entry, a number N the entry added by the Nth proxy from the server. Only behind a proxy
   * that sets the header. @default false (the socket's address)
   */
  trustProxy?: boolean | number;
  /**
   * Called with each session event (`created`, `renewed`, `login`, `logout`, `revoked`, `expired`,
   * `rejected_cookie`, `conflict`, `store_error`, `device_bound`), for audit logs and alerts; see
   * SessionEvent. It runs where the event happens; a promise it returns is not awaited, and a throw
   * or rejection is logged, never answered to the request. @default undefined (none)
   */
  onEvent?: SessionEventHandler;
  /**
   * Device Bound Session Credentials (W3C DBSC): a signed-in session is bound to a key the
   * browser keeps on the device, and a short-lived bound cookie that only that device can refresh,
   * so a copied session cookie is useless elsewhere. The adapters answer `POST {path}/register`
   * and `POST {path}/refresh`. Needs a store that keeps sessions on the server. Guide:
   * docs/device-bound.md. @default undefined (off)
   */
  deviceBound?: DeviceBoundOptions | boolean;
}

const COOKIE_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 6265 §4.1.1 token
/** RFC 1034 §3.5 labels (and the cookie library's own check), with one optional leading dot (RFC 6265 §5.2.3). */
const DOMAIN_RE = /^\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** RFC 6265 §4.1.1 path-value: printable ASCII without ';' (the cookie library also refuses '<'). */
const PATH_RE = /^\/[\x20-\x3a\x3d-\x7e]*$/;

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(option, `expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * The cookie name prefixes browsers enforce, matched case-insensitively as browsers match them
 * (RFC 6265bis §4.1.3; `__Http-` and `__Host-Http-`: https://datatracker.ietf.org/doc/draft-ietf-httpbis-rfc6265bis/):
 * a cookie whose options break its prefix's rules is dropped by the browser without a word.
 */
function checkPrefix(name: string, c: { domain: string | undefined; path: string; secure: boolean; httpOnly: boolean }): void {
  const lower = name.toLowerCase();
  const host = lower.startsWith('__host-');
  const http = lower.startsWith('__http-') || lower.startsWith('__host-http-');
  const prefix = name.slice(0, lower.startsWith('__host-http-') ? 12 : host ? 7 : lower.startsWith('__http-') ? 7 : 9);
  if ((host || http || lower.startsWith('__secure-')) && !c.secure) {
    throw new ConfigError(
      'cookie.secure',
      `a cookie named ${prefix}… needs secure: true (browsers drop it otherwise); serve the site over HTTPS and set cookie.secure`,
    );
  }
  if (http && !c.httpOnly) {
    throw new ConfigError('cookie.httpOnly', `a cookie named ${prefix}… needs httpOnly: true (browsers drop it otherwise)`);
  }
  if (host && c.domain !== undefined) {
    throw new ConfigError(
      'cookie.domain',
      `a cookie named ${prefix}… must have no domain (browsers drop it otherwise); leave cookie.domain out`,
    );
  }
  if (host && c.path !== '/') {
    throw new ConfigError('cookie.path', `a cookie named ${prefix}… needs path "/" (browsers drop it otherwise)`);
  }
}

/** Validates the cookie options once, at createSessions. */
export function resolveCookie(cookie: CookieOptions = {}): ResolvedCookie {
  if (typeof cookie !== 'object' || cookie === null)
    throw new ConfigError('cookie', 'give an object of cookie options, e.g. { name: "sessionid" }');
  const known = new Set(['name', 'maxAge', 'domain', 'path', 'secure', 'httpOnly', 'sameSite', 'partitioned']);
  for (const k of Object.keys(cookie)) {
    if (!known.has(k)) throw new ConfigError(`cookie.${k}`, `unknown cookie option; the options are ${[...known].join(', ')}`);
  }
  const name = cookie.name ?? 'sessionid';
  if (typeof name !== 'string' || !COOKIE_NAME_RE.test(name)) {
    throw new ConfigError(
      'cookie.name',
      `${JSON.stringify(name)} is not a valid cookie name (RFC 6265 token: letters, digits and !#$%&'*+-.^_\`|~)`,
    );
  }
  const maxAge = cookie.maxAge ?? 1209600;
  if (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge <= 0 || maxAge > MAX_AGE_SECONDS) {
    throw new ConfigError(
      'cookie.maxAge',
      `must be a positive whole number of seconds (e.g. 1209600 for two weeks) of at most ${MAX_AGE_SECONDS} (what a cookie's Expires can carry), got ${String(maxAge)}`,
    );
  }
  const domain = cookie.domain;
  if (domain !== undefined && (typeof domain !== 'string' || domain.length > 254 || !DOMAIN_RE.test(domain))) {
    throw new ConfigError(
      'cookie.domain',
      `${JSON.stringify(domain)} is not a domain (dot-separated labels of letters, digits and inner hyphens); give e.g. ".example.com", or leave it out for the current host`,
    );
  }
  const path = cookie.path ?? '/';
  if (typeof path !== 'string' || !PATH_RE.test(path)) {
    throw new ConfigError(
      'cookie.path',
      `${JSON.stringify(path)} must start with "/" and hold only printable ASCII without ";" or "<" (percent-encode the rest, e.g. "/caf%C3%A9")`,
    );
  }
  const sameSite = cookie.sameSite ?? 'lax';
  if (sameSite !== false && sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') {
    throw new ConfigError('cookie.sameSite', `expected 'lax', 'strict', 'none' or false, got ${JSON.stringify(sameSite)}`);
  }
  const secure = bool('cookie.secure', cookie.secure, false);
  if (sameSite === 'none' && !secure) {
    throw new ConfigError('cookie.sameSite', "'none' needs cookie.secure: true, or browsers reject the cookie");
  }
  const partitioned = bool('cookie.partitioned', cookie.partitioned, false);
  if (partitioned && !secure) throw new ConfigError('cookie.partitioned', 'needs cookie.secure: true, or browsers reject the cookie');
  const httpOnly = bool('cookie.httpOnly', cookie.httpOnly, true);
  checkPrefix(name, { domain, path, secure, httpOnly });
  if (domain !== undefined) checkCookieDomain(domain);
  const resolved: ResolvedCookie = {
    name,
    maxAge,
    domain,
    path,
    secure,
    httpOnly,
    sameSite,
    partitioned,
  };
  try {
    checkCookie(resolved); // what every commit will serialize, serialized once now
  } catch (err) {
    throw new ConfigError('cookie', `the cookie library refuses these options: ${(err as Error).message}`);
  }
  return resolved;
}

export interface ResolvedOptions {
  cookie: ResolvedCookie;
  saveEveryRequest: boolean;
  expireAtBrowserClose: boolean;
  logger: Logger;
  clock: () => number;
  maxSize: number;
  accounts: AccountOptions;
  migrate: SessionMigration | null;
  onEvent: SessionEventHandler | null;
  deviceBound: ResolvedDeviceBound | null;
}

export function resolveOptions(options: SessionsOptions<unknown>): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('options', 'createSessions takes an options object, e.g. createSessions({ store })');
  const known = new Set([
    'store',
    'cookie',
    'saveEveryRequest',
    'expireAtBrowserClose',
    'logger',
    'clock',
    'maxSize',
    'idleTimeout',
    'absoluteTimeout',
    'touchInterval',
    'maxSessionsPerUser',
    'trustProxy',
    'migrate',
    'onEvent',
    'deviceBound',
  ]);
  for (const k of Object.keys(options)) {
    if (!known.has(k)) throw new ConfigError(k, `unknown option; the options are ${[...known].join(', ')}`);
  }
  if (options.clock !== undefined && typeof options.clock !== 'function')
    throw new ConfigError('clock', 'give a function returning milliseconds, like Date.now');
  const maxSize = options.maxSize ?? 1024 * 1024;
  if (typeof maxSize !== 'number' || !Number.isSafeInteger(maxSize) || maxSize <= 0) {
    throw new ConfigError('maxSize', `give a positive whole number of bytes (e.g. 1048576 for 1 MiB), got ${String(maxSize)}`);
  }
  const logger = options.logger ?? consoleLogger;
  if (typeof logger?.warn !== 'function' || typeof logger?.error !== 'function') {
    throw new ConfigError('logger', 'give an object with warn(message, details) and error(message, details), e.g. console');
  }
  const migrate = options.migrate ?? null;
  if (migrate !== null && typeof migrate?.load !== 'function') {
    throw new ConfigError(
      'migrate',
      'give a session migration, e.g. fromExpressSession({ secret, store }) from sessionkit/express-session',
    );
  }
  const onEvent = options.onEvent ?? null;
  if (onEvent !== null && typeof onEvent !== 'function') {
    throw new ConfigError(
      'onEvent',
      `give a function that receives each session event, e.g. (event) => audit.write(event), got ${typeof onEvent}`,
    );
  }
  const cookie = resolveCookie(options.cookie);
  return {
    cookie,
    saveEveryRequest: bool('saveEveryRequest', options.saveEveryRequest, false),
    expireAtBrowserClose: bool('expireAtBrowserClose', options.expireAtBrowserClose, false),
    logger,
    clock: options.clock ?? Date.now,
    maxSize,
    accounts: resolveAccountOptions(options),
    migrate,
    onEvent,
    deviceBound: resolveDeviceBound(options.deviceBound, cookie),
  };
}
