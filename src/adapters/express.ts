/**
 * Express adapter: `app.use(sessionMiddleware(sessions))`, then `req.session` or `getSession<Data>(req)`.
 * Guide: docs/adapters.md.
 *
 * @module sessionkit/express
 */
import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Session } from '../core/session.js';
import { checkCsrf, type CsrfOptions, type CsrfRefusal } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import { nodeCsrfRequest, readNodeFormToken, sendCsrfRefusal } from './csrf-node.js';
import type { Sessions } from '../core/sessions.js';
import { sessionErrorResponse } from '../core/errors.js';
import type { ServerResponse } from 'node:http';
import { attachSession, installResponseHooks, pendingOf } from './http.js';
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
 * `req.session`; the session is committed before the response headers leave. Nothing is added to
 * Express's shared prototypes, so other apps in the process are untouched.
 */
export function sessionMiddleware<Data extends Record<string, any>>(sessions: Sessions<Data>): RequestHandler {
  let prepared: unknown;
  return (req: Request, res: Response, next: NextFunction) => {
    const app: ExpressApp = req.app;
    // an app mounted after it served requests is a sub-app from then on
    if (app !== prepared || app.parent !== undefined) prepared = prepareApp(app) ? app : undefined;
    attachSession(sessions, req, res, (session) => {
      if (prepared !== app) ownSession(req, sessionView(sessions, session, req as { session?: unknown }));
      next();
    });
  };
}

/** Express's app, with what Express sets on it that its types do not declare (absent on a mock app). */
type ExpressApp = Application & { request?: unknown; response?: unknown; parent?: unknown };

/**
 * Once per top-level app: `req.session` becomes an accessor on the app's own request prototype
 * (the view made on first use) and the commit hooks go on the app's own response prototype,
 * which its mounted sub-apps inherit. Express switches a request's prototype per app, and
 * properties added to its request and response objects take V8's slow path, so this keeps a
 * request free of additions. A mounted sub-app (whose prototypes a request leaves when the
 * sub-app calls next) gets `req.session` and the hooks on the request and response themselves.
 */
function prepareApp(app: ExpressApp): boolean {
  const { request, response } = app;
  if (app.parent !== undefined || typeof request !== 'object' || request === null || typeof response !== 'object' || response === null) {
    return false;
  }
  installResponseHooks(response);
  if (Object.hasOwn(request, 'session')) return true;
  Object.defineProperty(request, 'session', {
    configurable: true,
    enumerable: true,
    get(this: { res?: ServerResponse }) {
      const p = this.res === undefined ? undefined : pendingOf(this.res);
      if (p === undefined) return undefined;
      return (p.view ??= sessionView(p.sessions, p.session, this as { session?: unknown }));
    },
    set(this: { res?: ServerResponse }, value: unknown) {
      const p = this.res === undefined ? undefined : pendingOf(this.res);
      if (p !== undefined) p.view = value;
      else ownSession(this, value);
    },
  });
  return true;
}

function ownSession(req: object, value: unknown): void {
  Object.defineProperty(req, 'session', { value, writable: true, configurable: true, enumerable: true });
}

/** The options of `csrfProtection` (sessionkit/express). */
export interface ExpressCsrfOptions extends CsrfOptions {
  /**
   * Answers a refused request instead of the default 403 text, e.g.
   * `(req, res) => res.status(403).render('csrf')`; `refusal` says why (status 403, or 413).
   */
  onRefused?: (req: Request, res: Response, refusal: CsrfRefusal, next: NextFunction) => unknown;
}

/**
 * CSRF protection, after `sessionMiddleware`: `app.use(csrfProtection())`. A POST, PUT, PATCH or
 * DELETE passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser without Fetch
 * Metadata, on an `Origin` that is the request's own or a trusted one; a request with neither
 * header needs the session's CSRF token (`req.session.csrfToken()`) when the session holds one,
 * in the X-CSRF-Token header or the `csrf_token` form field (from `req.body` when a body parser
 * such as `express.urlencoded()` ran first, else read here, at most 1 MiB). Refused: 403.
 */
export function csrfProtection(options: ExpressCsrfOptions = {}): RequestHandler {
  return csrfMiddleware(options, {
    method: (req: Request) => req.method,
    session: (req) => req.session as Session<any> | undefined,
    needs: 'needs a session: app.use(sessionMiddleware(sessions)) before it',
    missing: (err, _req, _res, next: NextFunction) => next(err),
    check: (session, resolved, req) => checkCsrf(session, nodeCsrfRequest(req), resolved, () => readNodeFormToken(req)),
    pass: (_req, _res: Response, next): unknown => next(),
    refused: (onRefused, refusal, req, res, next) => onRefused(req, res, refusal, next),
    refuse: (refusal, _req, res) => sendCsrfRefusal(res, refusal),
    fail: (err, _req, _res, next) => next(err),
  });
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
