/**
 * Express adapter: `app.use(sessionMiddleware(sessions))`, then `req.session` or `getSession<Data>(req)`.
 * Guide: docs/adapters.md.
 *
 * @module sessionkit/express
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Session } from '../core/session.js';
import { checkCsrf, CSRF_FIELD, CSRF_REFUSED_TEXT, type CsrfOptions, csrfRequest, isSafeMethod, resolveCsrfOptions } from '../core/csrf.js';
import { ConfigError } from '../core/errors.js';
import type { Sessions } from '../core/sessions.js';
import { sessionErrorResponse } from '../core/errors.js';
import { attachSession } from './http.js';
import type { DeclaredSessionData } from '../core/session-types.js';
import { type ExpressSession, sessionView } from './express-view.js';

export type { ExpressSession, ExpressSessionCookie, ExpressSessionMethods } from './express-view.js';

/**
 * What sessionkit adds to Express's request (4 and 5): `req.session`, a `Session` of the data
 * declared in `SessionTypes`, which also has express-session's methods (`regenerate`, `save`,
 * `destroy`, `reload`, `touch`, `cookie`) and, for middleware written for express-session
 * (passport, connect-flash), reads and writes data under any other name as a property. It is added to the request of Express's handlers rather than to the
 * global `Express.Request`, so that @types/express-session (which declares `session` there) can
 * be installed beside it: then `req.session` keeps express-session's type, and `getSession(req)`
 * gives sessionkit's.
 */
declare module 'express-serve-static-core' {
  interface Request {
    /** The visitor's session, loaded before your handlers run (sessionkit/express). */
    session: Express.Request extends { session: infer Other } ? Other : ExpressSession<DeclaredSessionData>;
  }
}

/**
 * Express 4 and 5 middleware: `app.use(sessionMiddleware(sessions))` gives every handler a loaded
 * `req.session`; the session is committed before the response headers leave. Everything is set
 * on the request and the response themselves (as express-session does): nothing is added to
 * Express's shared prototypes, so other apps in the process are untouched.
 */
export function sessionMiddleware<Data extends Record<string, any>>(sessions: Sessions<Data>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    attachSession(sessions, req, res, (session) => {
      (req as { session: unknown }).session = sessionView(sessions, session, req as { session?: unknown });
      next();
    });
  };
}

/**
 * CSRF protection (after `sessionMiddleware` and a body parser such as `express.urlencoded()`):
 * `app.use(csrfProtection())` answers 403 to a POST, PUT, PATCH or DELETE sent from another
 * origin, or whose session holds a CSRF token (`req.session.csrfToken()`) while the request
 * carries no matching `csrf_token` field or X-CSRF-Token header.
 */
export function csrfProtection(options: CsrfOptions = {}): RequestHandler {
  const trusted = resolveCsrfOptions(options);
  return (req: Request, res: Response, next: NextFunction) => {
    if (isSafeMethod(req.method)) return next();
    const session = req.session;
    if (!session) return next(new ConfigError('csrfProtection', 'needs a session: app.use(sessionMiddleware(sessions)) before it'));
    const body = req.body as Record<string, unknown> | undefined;
    const verdict = checkCsrf(
      session,
      csrfRequest(req.method, (name) => req.get(name), body?.[CSRF_FIELD]),
      trusted,
    );
    if (verdict.ok) return next();
    res.status(403).type('text/plain').send(CSRF_REFUSED_TEXT);
  };
}

/** The typed session of a request: `getSession<Data>(req)`. */
export function getSession<Data extends Record<string, any> = DeclaredSessionData>(req: Request): Session<Data> {
  return req.session as Session<Data>;
}

/**
 * An Express error handler that answers sessionkit errors thrown by handlers as the other
 * adapters do (SessionInterruptedError 400, StoreUnavailableError 503); others pass on.
 */
export function sessionErrorHandler(): (err: unknown, req: Request, res: Response, next: NextFunction) => void {
  return (err, _req, res, next) => {
    const answer = sessionErrorResponse(err);
    if (answer === null || res.headersSent) return next(err);
    res.status(answer.status).type('text/plain').send(answer.text);
  };
}
