import { varyWithCookie } from './cookie.js';
import { sessionErrorResponse } from './errors.js';
import { rateLimited, type Logger } from './log.js';
import type { CommitResponse } from './sessions.js';

/**
 * How one framework's response headers are read and written, so that one function applies a
 * commit to all of them. Implementations are module-level objects (nothing allocated per request).
 */
export interface ResponseHeaders<T> {
  /** The current Vary value, if any. */
  getVary(target: T): string | undefined;
  setVary(target: T, value: string): void;
  /** Adds one Set-Cookie header after those the application set. */
  appendSetCookie(target: T, value: string): void;
  /** A header's current value (Cache-Control), if any. */
  get(target: T, name: string): unknown;
  /** Sets a header (Cache-Control, Clear-Site-Data). */
  set(target: T, name: string, value: string): void;
  /** Sets a header (CommitResponse.headers: `Secure-Session-Registration` after a login). */
  setHeader?(target: T, name: string, value: string): void;
}

/** Applies a commit to a response: `Vary: Cookie` merged into the application's Vary, the session's Set-Cookie appended. */
export function applyCommit<T>(target: T, headers: ResponseHeaders<T>, result: CommitResponse): void {
  if (result.vary) headers.setVary(target, varyWithCookie(headers.getVary(target)));
  if (result.setCookie !== null) headers.appendSetCookie(target, result.setCookie);
  for (const expired of result.expireCookies) headers.appendSetCookie(target, expired);
  if (result.headers !== undefined && headers.setHeader !== undefined) for (const [n, v] of result.headers) headers.setHeader(target, n, v);
  if (result.cacheControl !== null) {
    const own = headers.get(target, 'Cache-Control');
    if (own === undefined || own === null || own === '') headers.set(target, 'Cache-Control', result.cacheControl);
  }
  if (result.clearSiteData !== null) headers.set(target, 'Clear-Site-Data', result.clearSiteData);
}

/** Whether a commit adds nothing to the response (no header to set). */
export function addsNothing(result: CommitResponse): boolean {
  return (
    !result.vary &&
    result.setCookie === null &&
    result.expireCookies.length === 0 &&
    result.clearSiteData === null &&
    (result.headers === undefined || result.headers.length === 0)
  );
}

/** The Set-Cookie header value with `cookie` added after what the application already set. */
export function withSetCookie(prev: unknown, cookie: string): string | string[] {
  return prev === undefined ? cookie : [...(Array.isArray(prev) ? prev : [String(prev)]), cookie];
}

/** Web `Headers` (fetch-style frameworks). Throws on immutable headers, e.g. of `Response.redirect()`. */
export const webHeaders: ResponseHeaders<Headers> = {
  getVary: (h) => h.get('Vary') ?? undefined,
  setVary: (h, value) => h.set('Vary', value),
  appendSetCookie: (h, value) => h.append('Set-Cookie', value),
  get: (h, name) => h.get(name),
  set: (h, name, value) => h.set(name, value),
  setHeader: (h, name, value) => h.set(name, value),
};

/** Anything with node's `getHeader` / `setHeader` (node:http's ServerResponse, Express's res). */
export const nodeHeaders: ResponseHeaders<{
  getHeader(name: string): unknown;
  setHeader(name: string, value: string | string[]): unknown;
}> = {
  getVary: (res) => headerText(res.getHeader('Vary')),
  setVary: (res, value) => res.setHeader('Vary', value),
  appendSetCookie: (res, value) => res.setHeader('Set-Cookie', withSetCookie(res.getHeader('Set-Cookie'), value)),
  get: (res, name) => res.getHeader(name),
  set: (res, name, value) => res.setHeader(name, value),
  setHeader: (res, name, value) => res.setHeader(name, value),
};

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** One rate-limited view of each logger: a store outage answers many 503s, and logs one line a minute with a count. */
const outageLoggers = new WeakMap<Logger, Logger>();

/**
 * What an adapter answers for an error thrown by load or commit: a sessionkit error's status and
 * text (400, 503, or 500 for a bug), or null for any other error, which is the framework's (or the
 * application's) to handle. Logs through `logger` what the adapter answers itself: a 503 with the
 * store's failure (rate-limited), and a 500 unless `frameworkHandles500` (the adapter passes
 * those to the framework's own error handling, which logs them).
 */
export function answerError(logger: Logger, err: unknown, frameworkHandles500 = false): { status: number; text: string } | null {
  const answer = sessionErrorResponse(err);
  if (answer === null) return null;
  if (answer.status === 503) {
    let limited = outageLoggers.get(logger);
    if (limited === undefined) outageLoggers.set(logger, (limited = rateLimited(logger, 60_000)));
    limited.warn('the session store cannot be reached; answering 503', { error: (err as Error).message });
  } else if (answer.status >= 500 && !frameworkHandles500) logSessionError(logger, err);
  return answer;
}

/** Logs an error an adapter answers with 500 itself. */
export function logSessionError(logger: Logger, err: unknown): void {
  logger.error('session error; answering 500', { error: String((err as Error)?.stack ?? err) });
}
