import type { DefaultState, Middleware, Next, ParameterizedContext } from 'koa';
import type { IncomingMessage } from 'node:http';
import type { Session } from '../core/session.js';
import { checkCsrf, CSRF_REFUSED_TEXT, CSRF_TOO_LARGE_TEXT, type CsrfOptions, type CsrfRefusal } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import { nodeCsrfRequest, readNodeFormToken } from './csrf-node.js';
import { answerError, applyCommit } from '../core/response.js';
import type { Sessions } from '../core/sessions.js';
import { runSequence, type Translation } from './sequence.js';

/** The Koa context that types `ctx.session`: `new Koa<DefaultState, SessionContext<Data>>()`. */
export interface SessionContext<Data extends Record<string, any> = Record<string, any>> {
  session: Session<Data>;
}

/**
 * Koa 2 and 3 middleware: `app.use(sessionMiddleware(sessions))` gives every later middleware a
 * loaded `ctx.session` and commits it once they have finished, before Koa sends the response.
 */
export function sessionMiddleware<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
): Middleware<DefaultState, SessionContext<Data>> {
  const t: Translation<Data, KoaContext<Data>, Next, void> = {
    endpointRequest: (ctx) => ctx.req, // POST {deviceBound.path}/register or /refresh
    request: (ctx) => ctx.req, // no promise when there is no cookie
    deviceBound: (a, ctx) => {
      ctx.status = a.status;
      for (const [name, value] of a.headers) name === 'Set-Cookie' ? ctx.append(name, value) : ctx.set(name, value);
      ctx.body = a.body;
    },
    run: (session, ctx, next) => {
      ctx.session = session;
      return next();
    },
    status: (_out, ctx) => ctx.status,
    commit: (_out, result, ctx) => applyCommit(ctx, koaHeaders, result),
    loadFailed: (err, ctx) => answer(sessions, ctx, err),
    commitFailed: (err, _out, ctx) => {
      for (const name of Object.keys(ctx.response.headers)) ctx.remove(name);
      answer(sessions, ctx, err);
    },
  };
  return (ctx, next) => runSequence(sessions, t, ctx, next);
}

type KoaContext<Data extends Record<string, any>> = ParameterizedContext<DefaultState, SessionContext<Data>>;

/** Koa's response headers, for applyCommit (Vary merged by applyCommit, Set-Cookie appended). */
const koaHeaders = {
  getVary: (ctx: ParameterizedContext) => (ctx.response.get('Vary') as string) || undefined,
  setVary: (ctx: ParameterizedContext, value: string) => ctx.set('Vary', value),
  appendSetCookie: (ctx: ParameterizedContext, value: string) => ctx.append('Set-Cookie', value),
  get: (ctx: ParameterizedContext, name: string) => ctx.response.get(name) || undefined,
  set: (ctx: ParameterizedContext, name: string, value: string) => ctx.set(name, value),
  setHeader: (ctx: ParameterizedContext, name: string, value: string) => ctx.set(name, value),
};

/** A sessionkit error's status and text (400, 503, or a logged 500); anything else goes to Koa's error handling. */
function answer(sessions: Sessions<any>, ctx: ParameterizedContext, err: unknown): void {
  const a = answerError(sessions.logger, err);
  if (a === null) throw err;
  ctx.status = a.status;
  ctx.type = 'text/plain; charset=utf-8';
  ctx.body = a.text;
}

/** The options of `csrfProtection` (sessionkit/koa). */
export interface KoaCsrfOptions extends CsrfOptions {
  /** Answers a refused request instead of the default 403 text: set `ctx.status` and `ctx.body` (e.g. the site's own page). */
  onRefused?: (ctx: ParameterizedContext, refusal: CsrfRefusal) => unknown;
}

/**
 * CSRF protection, after `sessionMiddleware`: `app.use(csrfProtection())`. A POST, PUT, PATCH or
 * DELETE passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser without Fetch
 * Metadata, on an `Origin` that is the request's own or a trusted one; a request with neither
 * header needs the session's CSRF token (`ctx.session.csrfToken()`) when the session holds one,
 * in the X-CSRF-Token header or the `csrf_token` form field (from `ctx.request.body` when a body
 * parser ran first, else read here, at most 1 MiB, and left as `ctx.request.body`). Refused: 403.
 */
export function csrfProtection<Data extends Record<string, any>>(
  options: KoaCsrfOptions = {},
): Middleware<DefaultState, SessionContext<Data>> {
  const csrf = csrfMiddleware(options, {
    method: (ctx: KoaContext<Data>) => ctx.method,
    session: (ctx) => ctx.session,
    needs: 'needs a session: app.use(sessionMiddleware(sessions)) before it',
    check: (session, resolved, ctx) => {
      const request = ctx.request as { body?: unknown };
      const req = ctx.req as IncomingMessage & { body?: unknown };
      if (request.body !== undefined && req.body === undefined) req.body = request.body; // a body parser's result
      return checkCsrf(session, { ...nodeCsrfRequest(ctx.req), protocol: ctx.protocol }, resolved, () => readNodeFormToken(ctx.req));
    },
    checked: (ctx) => {
      const request = ctx.request as { body?: unknown };
      const req = ctx.req as IncomingMessage & { body?: unknown };
      if (request.body === undefined && req.body !== undefined) request.body = req.body; // the form read here
    },
    pass: (_ctx, next: Next): unknown => next(),
    refused: (onRefused, refusal, ctx) => onRefused(ctx, refusal),
    refuse: (refusal, ctx) => {
      ctx.status = refusal.status;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = refusal.status === 413 ? CSRF_TOO_LARGE_TEXT : CSRF_REFUSED_TEXT;
      if (refusal.status === 413) ctx.set('Connection', 'close');
    },
  });
  return async (ctx, next) => csrf(ctx, next, undefined);
}
