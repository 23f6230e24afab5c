// Device Bound Session Credentials (W3C WebAppSec DBSC, https://w3c.github.io/webappsec-dbsc/):
// the options, the record a bound session keeps, its challenges, the bound cookie and the proof
// JWTs, verified through Web Crypto (globalThis.crypto.subtle) so it runs on every runtime.
import type { SessionData } from './codec.js';
import { cookieHeader, readCookie, type RequestLike, requestHeader, type ResolvedCookie } from './cookie.js';
import { fillRandom, fromBase64url, hashing, timingSafeEqual, toBase64url } from './crypto.js';
import { ConfigError } from './errors.js';
import { rateLimited, type Logger } from './log.js';
import type { SessionState } from './session-state.js';

/**
 * The reserved key under which a session keeps its device binding (as `_session_meta` keeps the
 * account record): the device's public key and its thumbprint, the bound cookies handed out and
 * the challenges issued. Every server-side store keeps it with the rest of the data.
 */
export const DEVICE_KEY = '_session_device';

/** `createSessions({ deviceBound })`. */
export interface DeviceBoundOptions {
  /**
   * Where the adapters answer the browser: `POST {path}/register` and `POST {path}/refresh`.
   * Starts with '/', no trailing '/', inside the session cookie's path. @default '/.sessionkit/dbsc'
   */
  path?: string;
  /** Seconds a bound cookie lives before the browser proves its key again to refresh it. @default 600 */
  cookieMaxAge?: number;
  /** The bound cookie's name; not the session cookie's. @default '{cookie.name}_bound' */
  cookieName?: string;
}

export interface ResolvedDeviceBound {
  path: string;
  cookieMaxAge: number;
  cookieName: string;
}

const PATH_RE = /^(\/[A-Za-z0-9._~!$&'()*+,=:@%-]+)+$/;
const COOKIE_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Checks `deviceBound` once, at createSessions; null when it is off. */
export function resolveDeviceBound(value: unknown, cookie: ResolvedCookie): ResolvedDeviceBound | null {
  if (value === undefined || value === false || value === null) return null;
  const o = (value === true ? {} : value) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o))
    throw new ConfigError('deviceBound', 'give an object, e.g. { path: "/.sessionkit/dbsc", cookieMaxAge: 600 }, or true for the defaults');
  const known = ['path', 'cookieMaxAge', 'cookieName'];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new ConfigError(`deviceBound.${k}`, `unknown option; the options are ${known.join(', ')}`);
  }
  const path = o.path ?? '/.sessionkit/dbsc';
  if (typeof path !== 'string' || !PATH_RE.test(path))
    throw new ConfigError(
      'deviceBound.path',
      `${JSON.stringify(path)} must start with "/", name at least one segment and not end with "/" (e.g. "/.sessionkit/dbsc")`,
    );
  const cookiePath = cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`;
  if (!`${path}/`.startsWith(cookiePath))
    throw new ConfigError(
      'deviceBound.path',
      `${path} is outside the session cookie's path (${cookie.path}), so the browser would not send the session cookie to it; give a path under ${cookie.path}`,
    );
  const maxAge = o.cookieMaxAge ?? 600;
  if (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 1 || maxAge > cookie.maxAge)
    throw new ConfigError(
      'deviceBound.cookieMaxAge',
      `give whole seconds from 1 to the session's cookie.maxAge (${cookie.maxAge}), e.g. 600 for ten minutes, got ${String(maxAge)}`,
    );
  const name = o.cookieName ?? `${cookie.name}_bound`;
  if (typeof name !== 'string' || !COOKIE_NAME_RE.test(name) || name === cookie.name)
    throw new ConfigError(
      'deviceBound.cookieName',
      `${JSON.stringify(name)} must be a cookie name (RFC 6265 token) other than the session cookie's (${cookie.name})`,
    );
  return { path, cookieMaxAge: maxAge, cookieName: name };
}

/** Why `deviceBound` cannot work on a store, or null when it can. */
export function deviceBoundUnsupported(store: { clientSide?: boolean }): string | null {
  return store.clientSide === true
    ? 'CookieStore keeps the whole session in the cookie: there is no server-side record to keep the device key and the single-use challenges in, and a copied cookie cannot be refused; use a store that keeps sessions on the server (SqliteStore, RedisStore, PostgresStore)'
    : null;
}

// ---------------------------------------------------------------------------------------------
// The record a session keeps under DEVICE_KEY (short names: it travels with every load).

/** A public key as a JWK, only the members that define it (RFC 7638 §3.2). */
export type PublicJwk = { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'RSA'; n: string; e: string };

export type ProofAlg = 'ES256' | 'RS256';

/** A challenge issued: its value, what it is for (registration or refresh), until when, and the authorization sent with it. */
export interface Challenge {
  c: string;
  k: 'reg' | 'ref';
  u: number;
  a?: string;
}

/** A bound cookie handed out: the SHA-256 of its value (never the value) and until when it is good. */
export interface BoundCookie {
  h: string;
  u: number;
}

export interface Binding {
  /** The device's public key, its algorithm and RFC 7638 thumbprint; absent until registration. */
  jwk?: PublicJwk;
  alg?: ProofAlg;
  jkt?: string;
  /** When the key was registered. */
  at?: number;
  /**
   * The `session_identifier` the browser was given at registration: the session's public id then.
   * It stays the browser's name for the binding when a later `cycleKey` gives the session a new id.
   */
  sid?: string;
  /** The bound cookies still good (the latest and the one before it, for requests already on their way). */
  ck?: BoundCookie[];
  /** Challenges issued and not yet used. */
  ch?: Challenge[];
}

/** Seconds a challenge can be answered (the spec asks for a short lifetime; ASP.NET Core uses five minutes). */
export const CHALLENGE_TTL = 300;
/** The most challenges a session keeps; older ones are dropped first. */
export const MAX_CHALLENGES = 8;

export function bindingOf(data: SessionData): Binding | null {
  const b = Object.hasOwn(data, DEVICE_KEY) ? data[DEVICE_KEY] : undefined;
  return b !== null && typeof b === 'object' && !Array.isArray(b) ? (b as Binding) : null;
}

/** Whether stored data is bound to a device key (registration done). */
export function isDeviceBound(data: SessionData): boolean {
  const b = bindingOf(data);
  return b !== null && typeof b.jkt === 'string' && b.jwk !== undefined;
}

/** The binding's challenges that have the shape this file writes. */
function challengesOf(b: Binding | null): Challenge[] {
  const list = b?.ch;
  if (!Array.isArray(list)) return [];
  return list.filter((c) => c !== null && typeof c === 'object' && typeof c.c === 'string' && typeof c.u === 'number');
}

/** A new challenge value: 32 random bytes, base64url (only characters an sf-string carries unescaped). */
export function newChallenge(): string {
  return toBase64url(fillRandom(new Uint8Array(32)));
}

/** The binding with `challenge` added; expired ones and the oldest beyond MAX_CHALLENGES dropped. */
export function withChallenge(b: Binding | null, challenge: Challenge, now: number): Binding {
  const kept = challengesOf(b).filter((c) => c.u > now);
  kept.push(challenge);
  return { ...b, ch: kept.slice(-MAX_CHALLENGES) };
}

/**
 * The binding with the challenge `value` of kind `kind` used up, or null when it holds no such
 * live challenge (never issued, issued for another session, expired, or used already).
 */
export function consumeChallenge(
  b: Binding | null,
  value: string,
  kind: Challenge['k'],
  now: number,
): { rest: Challenge[]; used: Challenge } | null {
  const list = challengesOf(b);
  let used: Challenge | null = null;
  const rest: Challenge[] = [];
  for (const c of list) {
    if (used === null && c.k === kind && c.u > now && timingSafeEqual(c.c, value)) used = c;
    else if (c.u > now) rest.push(c);
  }
  return used === null ? null : { rest, used };
}

/** A new bound cookie value: 32 random bytes, base64url. */
export function newBoundCookieValue(): string {
  return toBase64url(fillRandom(new Uint8Array(32)));
}

export function cookieDigest(value: string): string {
  return hashing.sha256Hex(value);
}

/** Whether `value` is a bound cookie this binding handed out and still good at `now`. */
export function boundCookieGood(b: Binding, value: string | undefined, now: number): boolean {
  if (value === undefined || value.length !== 43 || !Array.isArray(b.ck)) return false;
  const h = cookieDigest(value);
  let good = false;
  for (const c of b.ck) if (c !== null && typeof c === 'object' && c.u > now && timingSafeEqual(String(c.h), h)) good = true;
  return good;
}

// ---------------------------------------------------------------------------------------------
// Proof JWTs (spec § "DBSC Proof JWT Syntax"): typ dbsc+jwt, ES256 or RS256, jti the challenge.

/** What a verified proof says. */
export interface Proof {
  alg: ProofAlg;
  /** The public key from the header and its RFC 7638 thumbprint (registration only). */
  jwk: PublicJwk | null;
  jkt: string | null;
  jti: string;
  authorization: string | null;
}

export type ProofResult = { ok: true; proof: Proof } | { ok: false; reason: string };

const MAX_PROOF_LENGTH = 8192;
const decoder = new TextDecoder('utf-8', { fatal: true });

function jsonPart(part: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(decoder.decode(fromBase64url(part))) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** The public members of a JWK a proof carries, checked against `alg`; null when it is not a usable key. */
export function publicJwkOf(jwk: unknown, alg: ProofAlg): PublicJwk | null {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return null;
  const k = jwk as Record<string, unknown>;
  if ('d' in k) return null; // a private key has no business in a proof
  const b64 = (v: unknown, min: number, max: number) => typeof v === 'string' && v.length >= min && v.length <= max && B64URL_RE.test(v);
  if (alg === 'ES256') {
    if (k.kty !== 'EC' || k.crv !== 'P-256' || !b64(k.x, 43, 43) || !b64(k.y, 43, 43)) return null;
    return { kty: 'EC', crv: 'P-256', x: k.x as string, y: k.y as string };
  }
  // RS256: 2048 to 8192 bits (342 to 1366 base64url characters of modulus)
  if (k.kty !== 'RSA' || !b64(k.n, 342, 1366) || !b64(k.e, 1, 8)) return null;
  return { kty: 'RSA', n: k.n as string, e: k.e as string };
}

/** The RFC 7638 thumbprint (SHA-256, base64url) of a public key. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const canonical =
    jwk.kty === 'EC'
      ? `{"crv":${JSON.stringify(jwk.crv)},"kty":"EC","x":${JSON.stringify(jwk.x)},"y":${JSON.stringify(jwk.y)}}`
      : `{"e":${JSON.stringify(jwk.e)},"kty":"RSA","n":${JSON.stringify(jwk.n)}}`;
  return toBase64url(hashing.sha256(canonical));
}

type WebCryptoAlgorithm = { name: string; namedCurve?: string; hash?: string };
const ALGS: Record<ProofAlg, { import: WebCryptoAlgorithm; verify: WebCryptoAlgorithm }> = {
  ES256: { import: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' } },
  RS256: { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verify: { name: 'RSASSA-PKCS1-v1_5' } },
};

/** Imported keys by thumbprint: a refresh verifies against the same key every few minutes. */
const importedKeys = new Map<string, Promise<CryptoKey>>();
const MAX_IMPORTED_KEYS = 1000;

function importKey(jwk: PublicJwk, alg: ProofAlg, thumbprint: string): Promise<CryptoKey> {
  const id = `${alg}:${thumbprint}`;
  let key = importedKeys.get(id);
  if (key === undefined) {
    key = globalThis.crypto.subtle.importKey('jwk', { ...jwk, ext: true }, ALGS[alg].import, false, ['verify']);
    if (importedKeys.size >= MAX_IMPORTED_KEYS) importedKeys.delete(importedKeys.keys().next().value!);
    importedKeys.set(id, key);
    key.catch(() => importedKeys.delete(id));
  }
  return key;
}

/**
 * Verifies a compact JWS signature with `jwk` through Web Crypto (ES256: raw r‖s, as JWS has it).
 * `thumbprint` is the key's, when the caller has it already (the imported key is kept under it).
 */
export async function verifyJws(token: string, jwk: PublicJwk, alg: ProofAlg, thumbprint?: string): Promise<boolean> {
  const dot = token.lastIndexOf('.');
  const signature = fromBase64url(token.slice(dot + 1));
  if (alg === 'ES256' && signature.length !== 64) return false;
  try {
    const key = await importKey(jwk, alg, thumbprint ?? jwkThumbprint(jwk));
    return await globalThis.crypto.subtle.verify(
      ALGS[alg].verify,
      key,
      signature as Uint8Array<ArrayBuffer>,
      new TextEncoder().encode(token.slice(0, dot)),
    );
  } catch {
    return false; // a key Web Crypto refuses (not on the curve, malformed) verifies nothing
  }
}

/**
 * Checks a DBSC proof. At registration (`key` null) the header must carry the public key as
 * `jwk`, and the signature is checked with it; at refresh (`key` the registered one) the header
 * must not carry one, `alg` must be the registered algorithm and the signature is checked with
 * the registered key. The challenge (`jti`) and `authorization` are the caller's to check.
 */
export async function verifyProof(token: string, key: { jwk: PublicJwk; alg: ProofAlg; jkt?: string } | null): Promise<ProofResult> {
  if (typeof token !== 'string' || token.length > MAX_PROOF_LENGTH) return { ok: false, reason: 'no proof, or one too long' };
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => p !== '' && B64URL_RE.test(p))) return { ok: false, reason: 'not a compact JWS' };
  const header = jsonPart(parts[0]!);
  const payload = jsonPart(parts[1]!);
  if (header === null || payload === null) return { ok: false, reason: 'the header or payload is not a JSON object' };
  if (header.typ !== 'dbsc+jwt') return { ok: false, reason: 'typ is not dbsc+jwt' };
  const alg = header.alg;
  if (alg !== 'ES256' && alg !== 'RS256') return { ok: false, reason: 'alg is neither ES256 nor RS256' };
  if (typeof header.crit !== 'undefined') return { ok: false, reason: 'crit is not understood' };
  let jwk: PublicJwk | null = null;
  let jkt: string | null = null;
  if (key === null) {
    jwk = publicJwkOf(header.jwk, alg);
    if (jwk === null) return { ok: false, reason: `the header carries no usable ${alg} public key (jwk)` };
    jkt = jwkThumbprint(jwk);
  } else {
    if (header.jwk !== undefined) return { ok: false, reason: 'a refresh proof carries a jwk' };
    if (alg !== key.alg) return { ok: false, reason: 'alg is not the registered key’s' };
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '') return { ok: false, reason: 'no jti' };
  const authorization = payload.authorization;
  if (authorization !== undefined && typeof authorization !== 'string') return { ok: false, reason: 'authorization is not a string' };
  if (!(await verifyJws(token, jwk ?? key!.jwk, alg, jkt ?? key?.jkt))) return { ok: false, reason: 'the signature does not verify' };
  return { ok: true, proof: { alg, jwk, jkt, jti, authorization: authorization ?? null } };
}

export { sfString, sfStringValue } from './structured-fields.js';
import { sfString } from './structured-fields.js';

// ---------------------------------------------------------------------------------------------
// One Sessions' device binding, made by the engine from the resolved options.

/** A request as every adapter can give it: node's IncomingMessage or a fetch Request. */
export type EndpointRequest = RequestLike & { method?: string; url?: string; originalUrl?: string };

/** The first value of a header that has a current and a legacy (`Sec-Session-*`) name. */
export function dbscHeader(req: RequestLike, name: string, legacy: string): string | undefined {
  return requestHeader(req, name) ?? requestHeader(req, legacy);
}

export class DeviceBound {
  readonly options: ResolvedDeviceBound;
  readonly registerPath: string;
  readonly refreshPath: string;
  /** The bound cookie's attributes, as Set-Cookie and `credentials[].attributes` say them. */
  readonly attributes: string;
  readonly trustProxy: boolean | number;
  /** Refusals and skipped refreshes are security events any client can cause: one line a minute each. */
  readonly log: Logger;
  /** Requests the endpoints answer: they load the session without the bound-cookie check (that is what they restore). */
  readonly #endpoint = new WeakSet<object>();
  /** The registration header due on the response of a login or cycleKey (by the request's session state). */
  readonly #pending = new WeakMap<SessionState, string>();
  /** Sessions loaded empty because their bound cookie was missing or stale: nothing may be written for them. */
  readonly #detached = new WeakSet<SessionState>();

  /** The engine's clock (`clock` option), in milliseconds. */
  readonly now: () => number;

  constructor(options: ResolvedDeviceBound, cookie: ResolvedCookie, trustProxy: boolean | number, logger: Logger, clock: () => number) {
    this.options = options;
    this.now = clock;
    this.registerPath = `${options.path}/register`;
    this.refreshPath = `${options.path}/refresh`;
    let attributes = 'Secure; HttpOnly; Path=/';
    if (cookie.domain !== undefined) attributes += `; Domain=${cookie.domain}`;
    if (cookie.sameSite !== false) attributes += `; SameSite=${cookie.sameSite[0]!.toUpperCase()}${cookie.sameSite.slice(1)}`;
    this.attributes = attributes;
    this.trustProxy = trustProxy;
    this.log = rateLimited(logger, 60_000);
  }

  /** Marks a request as one of the endpoints', before it is loaded. */
  markEndpoint(req: object): void {
    this.#endpoint.add(req);
  }

  /**
   * Whether a loaded session may be used by this request: yes when it is not bound, or the
   * request carries a bound cookie it handed out that is still good at `now`. No means the
   * stolen-cookie case (or a browser whose refresh is under way): the request sees an empty
   * session and nothing is written.
   */
  admits(data: SessionData, req: RequestLike, now: number): boolean {
    const b = bindingOf(data);
    if (b === null || b.jwk === undefined) return true;
    if (req !== null && typeof req === 'object' && this.#endpoint.has(req)) return true;
    if (boundCookieGood(b, readCookie(cookieHeader(req), this.options.cookieName), now)) return true;
    const skipped = dbscHeader(req, 'secure-session-skipped', 'sec-session-skipped');
    if (skipped !== undefined) {
      this.log.warn(
        'a browser skipped refreshing its device-bound session (Secure-Session-Skipped); the request was served without the session',
        {
          reason: skipped.slice(0, 200),
        },
      );
    }
    return false;
  }

  detach(s: SessionState): void {
    this.#detached.add(s);
  }

  /** A session loaded empty for a missing bound cookie, still without a key of its own: commit writes nothing. */
  isDetached(s: SessionState): boolean {
    return s.key === null && this.#detached.has(s);
  }

  /**
   * At a login or a cycleKey of a signed-in session: a registration challenge goes into the
   * session (saved with its new key), and its response is to carry the registration header.
   */
  issueRegistration(s: SessionState, now: number): void {
    const challenge = newChallenge();
    const value = withChallenge(bindingOf(s.data), { c: challenge, k: 'reg', u: now + CHALLENGE_TTL * 1000 }, now);
    s.data[DEVICE_KEY] = value;
    (s.ops ??= []).push({ kind: 'set', key: DEVICE_KEY, value });
    this.#pending.set(s, `(ES256 RS256);path=${sfString(this.registerPath)};challenge=${sfString(challenge)}`);
  }

  /** The headers a commit adds for this session (the registration header after a login), once. */
  headersFor(s: SessionState): [string, string][] | null {
    const header = this.#pending.get(s);
    if (header === undefined) return null;
    this.#pending.delete(s);
    return [['Secure-Session-Registration', header]];
  }

  /** The bound cookie's Set-Cookie value. */
  setCookie(value: string): string {
    return `${this.options.cookieName}=${value}; Max-Age=${this.options.cookieMaxAge}; ${this.attributes}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Fresh authentication (`session.authenticatedAt`, `authenticatedWithin`).

/** accounts.ts's META_KEY, where `login` records when (not imported: accounts.ts imports this file). */
const META = '_session_meta';

/** When the session was last signed in (`login`), in milliseconds, or null. */
export function authenticatedAtOf(data: SessionData): number | null {
  const meta = Object.hasOwn(data, META) ? (data[META] as { since?: unknown; user?: unknown } | null) : null;
  if (meta === null || typeof meta !== 'object' || typeof meta.user !== 'string' || meta.user === '') return null;
  return typeof meta.since === 'number' && Number.isFinite(meta.since) ? meta.since : null;
}

/** Whether `at` is at most `seconds` before `now` (false when `at` is null). */
export function withinSeconds(at: number | null, seconds: number, now: number): boolean {
  if (typeof seconds !== 'number' || !(seconds >= 0))
    throw new ConfigError('authenticatedWithin', `give a number of seconds, 0 or more (e.g. 300 for five minutes), got ${String(seconds)}`);
  return at !== null && now - at <= seconds * 1000;
}
