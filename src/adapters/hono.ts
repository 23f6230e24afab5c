/**
 * Hono adapter: `app.use(sessionMiddleware(sessions))` on `new Hono<SessionEnv<Data>>()`, then
 * `c.get('session')`. Guide: docs/adapters.md.
 *
 * @module sessionkit/hono
 */
import type { Context, MiddlewareHandler, Next } from 'hono';
import type { Session } from '../core/session.js';
import { checkRequestCsrf, type CsrfOptions, type CsrfRefusal, csrfRefusal } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import type { Sessions } from '../core/sessions.js';
import { addsNothing, answerError, applyCommit, webHeaders } from '../core/response.js';
import { answerResponse } from './fetch.js';
import { runSequence, type Translation } from './sequence.js';
import type { DeclaredSessionData } from '../core/session-types.js';

/** The Hono env that types `c.get('session')`: `new Hono<SessionEnv<Data>>()`. */
export type SessionEnv<Data extends Record<string, any> = DeclaredSessionData> = {
  Variables: { session: Session<Data> };
};

/**
 * Hono 4 middleware: `app.use(sessionMiddleware(sessions))` gives every handler a loaded
 * `c.get('session')` and commits it once the handler has answered, before the response leaves.
 * Web-standard only (Request, Response, Headers), so it runs on any runtime Hono runs on.
 */
export function sessionMiddleware<Data extends Record<string, any>>(sessions: Sessions<Data>): MiddlewareHandler<SessionEnv<Data>> {
  const t: Translation<Data, HonoContext<Data>, Next, Response | undefined> = {
    endpointRequest: (c) => (c.req.method === 'POST' ? c.req.raw : null), // POST {deviceBound.path}/register or /refresh
    request: (c) => nodeRequest(c) ?? c.req.raw, // no promise when there is no cookie
    deviceBound: answerResponse,
    run: async (session, c, next) => {
      c.set('session', session);
      await next();
      return undefined; // the answer is c.res
    },
    status: (_out, c) => c.res.status,
    commit: (_out, result, c) => {
      if (addsNothing(result)) return undefined;
      try {
        applyCommit(c.res.headers, webHeaders, result);
      } catch {
        // immutable headers (e.g. Response.redirect() or a fetched response): copy the response
        c.res = new Response(c.res.body, c.res);
        applyCommit(c.res.headers, webHeaders, result);
      }
      return undefined;
    },
    loadFailed: (err) => errorAnswer(sessions, err),
    commitFailed: async (err, _out, c) => {
      await c.res.body?.cancel().catch(() => {});
      c.res = undefined; // drop the handler's response and its headers, as the other adapters do
      c.res = errorAnswer(sessions, err);
      return undefined;
    },
  };
  return (c, next) => runSequence(sessions, t, c, next);
}

type HonoContext<Data extends Record<string, any>> = Context<SessionEnv<Data>>;

/**
 * On @hono/node-server, the node request underneath (`c.env.incoming`): its headers are a plain
 * object, where reading `c.req.raw.headers` would build a whole web Request and Headers first.
 */
function nodeRequest(c: Context): { headers: { cookie?: string | string[] } } | undefined {
  const incoming = (c.env as { incoming?: { headers?: unknown } } | undefined)?.incoming;
  return incoming !== undefined && typeof incoming.headers === 'object' && incoming.headers !== null
    ? (incoming as { headers: { cookie?: string | string[] } })
    : undefined;
}

/** 400 (SessionInterruptedError) or 503 (StoreUnavailableError); anything else is rethrown to Hono's onError. */
function errorAnswer(sessions: Sessions<any>, err: unknown): Response {
  const answer = answerError(sessions.logger, err, true);
  if (answer === null || answer.status === 500) throw err;
  return new Response(answer.text, { status: answer.status, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

/** The options of `csrfProtection` (sessionkit/hono). */
export interface HonoCsrfOptions extends CsrfOptions {
  /** Answers a refused request instead of the default 403 text, e.g. `(c) => c.html(page, 403)`. */
  onRefused?: (c: Context, refusal: CsrfRefusal) => Response | Promise<Response>;
}

/**
 * CSRF protection, after `sessionMiddleware`: `app.use(csrfProtection())`. A POST, PUT, PATCH or
 * DELETE passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser without Fetch
 * Metadata, on an `Origin` that is the request's own or a trusted one; a request with neither
 * header needs the session's CSRF token (`c.get('session').csrfToken()`) when the session holds
 * one, in the X-CSRF-Token header or the `csrf_token` form field (read from a copy of the body,
 * only then and at most 1 MiB, so the handler can still read it). Refused: 403.
 */
export function csrfProtection<Data extends Record<string, any>>(options: HonoCsrfOptions = {}): MiddlewareHandler<SessionEnv<Data>> {
  const csrf = csrfMiddleware(options, {
    method: (c: HonoContext<Data>) => c.req.method,
    session: (c) => c.get('session'),
    needs: 'needs a session: app.use(sessionMiddleware(sessions)) before it',
    check: (session, resolved, c) => checkRequestCsrf(session, c.req.raw, resolved),
    pass: (_c, next: Next): ReturnType<MiddlewareHandler> | Response => next(),
    refused: (onRefused, refusal, c) => onRefused(c, refusal),
    refuse: (refusal) => csrfRefusal(refusal),
  });
  return async (c, next) => csrf(c, next, undefined);
}

/** The typed session of a request: `getSession<Data>(c)`. */
export function getSession<Data extends Record<string, any> = DeclaredSessionData>(c: Context): Session<Data> {
  return c.get('session') as Session<Data>;
}
