/**
 * Every adapter's `csrfProtection`, written once: a safe method (GET, HEAD, OPTIONS, TRACE)
 * passes without the session being looked at; else the session is found (a ConfigError when the
 * session middleware did not run first), the request checked (`checkCsrf` / `checkRequestCsrf`,
 * which read a body or load a session only when the headers do not decide), and the request
 * passed on, or refused through `onRefused` or with the default 403 (413) answer. An adapter
 * supplies only the translation to its framework. Synchronous unless the check reads a body or
 * loads a session.
 */
import {
  type CsrfOptions,
  type CsrfRefusal,
  type CsrfVerdict,
  isSafeMethod,
  type ResolvedCsrfOptions,
  resolveCsrfOptions,
} from '../core/csrf.js';
import { ConfigError } from '../core/errors.js';
import { chain, chainCaught } from './sequence.js';

/**
 * How one framework's middleware reads its request and answers, for `csrfMiddleware`. `a`, `b`
 * and `c` are what the framework hands the middleware (e.g. Express's `req`, `res`, `next`); `S` is
 * what `session` finds for `check` (the session, or what loads it).
 */
export interface CsrfTranslation<A, B, C, S, R, Refused> {
  /** The request's method. */
  method(a: A, b: B, c: C): string;
  /** The request's session (or what loads it), looked up only for an unsafe method; null or undefined when there is none. */
  session(a: A, b: B, c: C): S | null | undefined;
  /** What the ConfigError for a missing session says (which middleware must run first). */
  needs: string;
  /** Answers that ConfigError (a callback-style framework's `next(err)`); without it, it is thrown. */
  missing?(err: ConfigError, a: A, b: B, c: C): R;
  /** The CSRF decision: `checkCsrf` with the framework's request and form reader, or `checkRequestCsrf`. */
  check(session: S, options: ResolvedCsrfOptions, a: A, b: B, c: C): CsrfVerdict | Promise<CsrfVerdict>;
  /** Runs once the check has decided, before the request is passed on or refused (Koa: the form read here handed on). */
  checked?(a: A, b: B, c: C): void;
  /** Lets the request through. */
  pass(a: A, b: B, c: C): R;
  /** Calls the application's `onRefused` with the framework's request. */
  refused(onRefused: Refused, refusal: CsrfRefusal, a: A, b: B, c: C): R;
  /** The default refusal: 403 (or 413 for a form over 1 MiB) with a short text. */
  refuse(refusal: CsrfRefusal, a: A, b: B, c: C): R;
  /**
   * A callback-style framework's error path (`next(err)`): given it, a check that has to wait
   * sends its failure (and whatever the decision then throws) here, and the middleware answers
   * undefined; without it, the middleware answers the promise of the decision.
   */
  fail?(err: unknown, a: A, b: B, c: C): unknown;
}

/**
 * The CSRF middleware of one adapter: the shared steps around the adapter's translation. With
 * `fail` (a callback-style framework), it answers what the decision answered when the check is
 * synchronous, else undefined; without, what the decision answered or its promise.
 */
export function csrfMiddleware<A, B, C, S, R, Refused>(
  options: CsrfOptions & { onRefused?: Refused },
  t: CsrfTranslation<A, B, C, S, R, Refused> & Required<Pick<CsrfTranslation<A, B, C, S, R, Refused>, 'fail'>>,
): (a: A, b: B, c: C) => R | undefined;
export function csrfMiddleware<A, B, C, S, R, Refused>(
  options: CsrfOptions & { onRefused?: Refused },
  t: CsrfTranslation<A, B, C, S, R, Refused>,
): (a: A, b: B, c: C) => R | Promise<R>;
export function csrfMiddleware<A, B, C, S, R, Refused>(
  options: CsrfOptions & { onRefused?: Refused },
  t: CsrfTranslation<A, B, C, S, R, Refused>,
): (a: A, b: B, c: C) => R | Promise<R> | undefined {
  const resolved = resolveCsrfOptions(options);
  const onRefused = options.onRefused;
  const decide = (verdict: CsrfVerdict, a: A, b: B, c: C): R => {
    t.checked?.(a, b, c);
    if (verdict.ok) return t.pass(a, b, c);
    return onRefused ? t.refused(onRefused, verdict, a, b, c) : t.refuse(verdict, a, b, c);
  };
  return (a, b, c) => {
    if (isSafeMethod(t.method(a, b, c))) return t.pass(a, b, c);
    const session = t.session(a, b, c);
    if (session === undefined || session === null) {
      const err = new ConfigError('csrfProtection', t.needs);
      if (t.missing === undefined) throw err;
      return t.missing(err, a, b, c);
    }
    const verdict = t.check(session, resolved, a, b, c);
    return t.fail === undefined ? chain(verdict, decide, a, b, c) : chainCaught(verdict, decide, t.fail, a, b, c);
  };
}
