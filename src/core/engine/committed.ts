import type { SessionCookie } from '../cookie.js';

/** The options of `commit` and `commitResponse`. */
export interface CommitOptions {
  /** The response status; 500 and above saves nothing. @default 200 */
  status?: number;
}

/**
 * What a response needs after a commit; an adapter (or your own glue for a framework sessionkit
 * has no adapter for) only translates it:
 * - `vary`: add `Cookie` to the response's `Vary` header (the session was read or written);
 * - `setCookie`: the whole `Set-Cookie` value to append, or null for none;
 * - `cookie`: the same cookie as `{ name, value, options }` for frameworks that take a cookie
 *   apart (SvelteKit's `event.cookies.set`, Next.js's `cookies().set`); `options` is in the
 *   style of the `cookie` package's `serialize` options. The value is already cookie-safe: give
 *   frameworks that encode by default an identity `encode` (`encode: (v) => v`).
 */
export interface CommitResponse {
  /** The whole Set-Cookie value to append after the application's own, or null for none. */
  setCookie: string | null;
  /** More Set-Cookie values to append after `setCookie`: a previous session system's cookie, expired (`migrate`); usually none. */
  expireCookies: readonly string[];
  /** The same cookie as `{ name, value, options }`, or null for none. */
  cookie: SessionCookie | null;
  /** Whether to add `Cookie` to the response's Vary header. */
  vary: boolean;
  /**
   * `private, no-store` when the response carries a session Set-Cookie, so no shared cache keeps
   * it (OWASP Session Management); set it unless the application set its own Cache-Control.
   */
  cacheControl: string | null;
  /** `"cookies"` after `flush({ clearSiteData: true })`: the Clear-Site-Data header to add, or null. */
  clearSiteData: string | null;
  /** More response headers to set, as `[name, value]`: `Secure-Session-Registration` after a login (`deviceBound`); usually none. */
  headers?: readonly (readonly [string, string])[];
}

const NO_COOKIES: readonly string[] = Object.freeze([]);

/** A commit's answer; `cookie` is worked out only when a framework asks for it. */
export class Committed implements CommitResponse {
  readonly setCookie: string | null;
  readonly vary: boolean;
  readonly #expireCookies: readonly string[];
  readonly #parts: (() => SessionCookie) | null;
  readonly #headers: readonly (readonly [string, string])[] | undefined;
  constructor(
    setCookie: string | null,
    vary: boolean,
    parts: (() => SessionCookie) | null,
    expireCookies: readonly string[] = NO_COOKIES,
    headers?: readonly (readonly [string, string])[],
  ) {
    this.setCookie = setCookie;
    this.vary = vary;
    this.#parts = parts;
    this.#expireCookies = expireCookies;
    this.#headers = headers;
  }
  get headers(): readonly (readonly [string, string])[] | undefined {
    return this.#headers;
  }
  get expireCookies(): readonly string[] {
    return this.#expireCookies;
  }
  get cookie(): SessionCookie | null {
    return this.#parts === null ? null : this.#parts();
  }
  get cacheControl(): string | null {
    return this.setCookie === null && this.#expireCookies.length === 0 ? null : 'private, no-store';
  }
  #clearSiteData: string | null = null;
  get clearSiteData(): string | null {
    return this.#clearSiteData;
  }
  /** This answer with `Clear-Site-Data: "cookies"` (a logout that asked for it). */
  clearingSiteData(): Committed {
    const copy = new Committed(this.setCookie, this.vary, this.#parts, this.#expireCookies);
    copy.#clearSiteData = '"cookies"';
    return copy;
  }
  toJSON(): CommitResponse {
    const json = { setCookie: this.setCookie, cookie: this.cookie, vary: this.vary };
    const withHeaders = this.headers === undefined ? json : { ...json, headers: this.headers };
    return (this.expireCookies.length === 0 ? withHeaders : { ...withHeaders, expireCookies: this.expireCookies }) as CommitResponse;
  }
}

export const NOTHING: CommitResponse = Object.freeze(new Committed(null, false, null));
export const VARY_ONLY: CommitResponse = Object.freeze(new Committed(null, true, null));
