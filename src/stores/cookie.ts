import { SessionDataError, ConfigError } from '../core/errors.js';
import { consoleLogger, rateLimited, type Logger } from '../core/log.js';
import { checkForeignSecret, checkOwnSecret } from '../core/secret.js';
import { EXPIRY_KEY, expiresAt } from '../core/expiry.js';
import { utf8Length } from '../core/crypto.js';
import { createSigner, type Secret, type Signer } from '../core/signing.js';
import type { SessionData } from '../core/codec.js';
import type { ClientSideStore, StoreCapabilities, StoredSessionData } from '../core/store.js';

/** Django's signed_cookies salt: cookies are readable by a Django site with the same SECRET_KEY. */
export const SIGNED_COOKIES_SALT = 'django.contrib.sessions.backends.signed_cookies';

/** Browsers keep at least 4096 bytes per cookie (RFC 6265 §6.1); sessionkit counts `name=value` against it. */
export const MAX_COOKIE_BYTES = 4096;

/** The most JSON a cookie may inflate to when read (zip-bomb guard); sealing refuses more, so nothing sealed is unreadable. */
export const MAX_COOKIE_JSON_BYTES = 1024 * 1024;

/** How often, at most, the store logs each kind of bad cookie (with a count of those held back). */
const BAD_COOKIE_LOG_INTERVAL_MS = 60_000;

export interface CookieStoreOptions {
  /**
   * The signing key, or [current, ...older] for rotation: the first signs, every one verifies.
   * Each must be at least 32 bytes and not a pattern (a ConfigError otherwise); make one with
   * `openssl rand -base64 48`. To share cookies with a Django site, give its SECRET_KEY and set
   * `sharedWithDjango`.
   */
  secret: Secret;
  /**
   * The secret is an existing Django site's SECRET_KEY (the two read each other's cookies): it is
   * taken as it is, and a weak one is only warned about once, as Django's check security.W009 does.
   * @default false
   */
  sharedWithDjango?: boolean;
  /** The session cookie's name, counted in the 4096-byte limit; give the same as `cookie.name`. @default 'sessionid' */
  cookieName?: string;
  /** Where tampered cookies are reported (a security event, at most once a minute per kind, with a count). @default console */
  logger?: Logger;
  /** The clock for the log's rate limit, in milliseconds. @default Date.now */
  clock?: () => number;
}

/**
 * The whole session in a signed cookie, in Django's signed_cookies format
 * (`django.contrib.sessions.backends.signed_cookies`): stateless, nothing on the server.
 *
 * Limits (see docs/stores.md, "CookieStore"): no server-side logout, since a copied cookie stays valid
 * until it ages out; 4096 bytes; no merging of parallel requests (the last cookie wins).
 */
export class CookieStore implements ClientSideStore {
  readonly clientSide = true as const;
  readonly capabilities: StoreCapabilities = {
    userIndex:
      "CookieStore keeps each session only in its visitor's signed cookie, so the server can neither find a user's sessions nor end one before its cookie expires",
    synchronous: true,
    keysInClear: false,
    selfExpiring: true,
  };
  /** Why listUserSessions, revokeSession, revokeUserSessions, idleTimeout and maxSessionsPerUser are refused (ConfigError). */
  readonly noUserIndex =
    "CookieStore keeps each session only in its visitor's signed cookie, so the server can neither find a user's sessions nor end one before its cookie expires";
  readonly #signer: Signer;
  /** Bad cookies come from clients: their warnings are rate-limited. */
  readonly #logger: Logger;
  readonly #nameBytes: number;

  constructor(options: CookieStoreOptions) {
    if (typeof options !== 'object' || options === null)
      throw new ConfigError('secret', 'new CookieStore({ secret }) needs a secret: make one with `openssl rand -base64 48`');
    const logger = options.logger ?? consoleLogger;
    if (options.sharedWithDjango !== undefined && typeof options.sharedWithDjango !== 'boolean')
      throw new ConfigError('sharedWithDjango', 'expected true or false');
    const secret = options.sharedWithDjango
      ? checkForeignSecret(options.secret, { owner: "CookieStore's secret (the Django site's SECRET_KEY)", logger })
      : checkOwnSecret(options.secret);
    // Sessions hold at most a 4 KB cookie; 1 MiB of JSON out of one is already absurd (zip-bomb guard).
    this.#signer = createSigner({ secret, salt: SIGNED_COOKIES_SALT, maxDecompressed: MAX_COOKIE_JSON_BYTES });
    const name = options.cookieName ?? 'sessionid';
    if (typeof name !== 'string' || name === '') throw new ConfigError('cookieName', "give the session cookie's name, as in cookie.name");
    this.#nameBytes = utf8Length(name);
    if (options.clock !== undefined && typeof options.clock !== 'function')
      throw new ConfigError('clock', 'give a function returning milliseconds, like Date.now');
    this.#logger = rateLimited(logger, BAD_COOKIE_LOG_INTERVAL_MS, options.clock ?? Date.now);
  }

  /** The cookie value for `data`; SessionDataError when it would not fit in a cookie or could not be read back. */
  seal(data: SessionData, now = Date.now()): string {
    const value = this.#signer.dumps(data, now); // refuses JSON over MAX_COOKIE_JSON_BYTES
    const size = this.#nameBytes + 1 + value.length; // name=value; the value is ASCII
    if (size > MAX_COOKIE_BYTES) {
      throw new SessionDataError(
        `the session cookie would be ${size} bytes (name=value), over the ${MAX_COOKIE_BYTES} bytes browsers keep; store less in the session or use a server-side store`,
      );
    }
    return value;
  }

  /**
   * Verifies the signature and the age. Django checks only SESSION_COOKIE_AGE against the signing
   * time (ticket #19201); sessionkit also honours the session's own expiry (`setExpiry`),
   * measured from the signing time, so a cookie never outlives what the session asked for.
   */
  unseal(value: string, maxAge: number, now = Date.now()): StoredSessionData | null {
    const r = this.#signer.loads(value, { now });
    if (!r.ok) {
      if (r.reason === 'signature')
        this.#logger.warn(
          'session cookie signature does not verify (tampered, or signed with an unknown secret); starting a fresh session',
          { security: true, store: 'CookieStore' },
        );
      else this.#logger.warn('session cookie verified but does not decode; starting a fresh session', { store: 'CookieStore' });
      return null;
    }
    const data = r.value;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      this.#logger.warn('session cookie verified but holds no object; starting a fresh session', { store: 'CookieStore' });
      return null;
    }
    const signedAt = r.timestamp * 1000;
    const until = expiresAt((data as SessionData)[EXPIRY_KEY], maxAge, signedAt);
    if (now > until) return null; // aged out (Django: age > max_age, strictly): routine, not a security event
    return { data: data as SessionData };
  }

  async clearExpired(): Promise<number> {
    return 0; // nothing is kept on the server
  }

  async close(): Promise<void> {}
}
