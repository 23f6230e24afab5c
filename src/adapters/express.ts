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
import type { ServerResponse } from 'node:http';
import { attachSession, installResponseHooks, pendingSession } from './http.js';

let lastApp: unknown;
const sessionOf = new WeakMap<object, Session<any>>();

/**
 * Once per app: the response hooks go on Express's base response prototype (shared by every app
 * and sub-app, inert for responses without a session) and `req.session` becomes an accessor on
 * its base request prototype. Per request, nothing is then added to Express's req/res objects,
 * whose property additions take V8's slow path (Express switches their prototypes per request).
 */
function prepareApp(req: Request): void {
  lastApp = req.app;
  const app = req.app as unknown as { request: object; response: object };
  const baseResponse = Object.getPrototypeOf(app.response) as object;
  const baseRequest = Object.getPrototypeOf(app.request) as object;
  installResponseHooks(baseResponse);
  if (!Object.hasOwn(baseRequest, 'session')) {
    Object.defineProperty(baseRequest, 'session', {
      configurable: true,
      enumerable: true,
      get(this: { res?: ServerResponse }) {
        return sessionOf.get(this) ?? (this.res ? pendingSession(this.res) : undefined);
      },
      set(this: object, value: Session<any>) {
        sessionOf.set(this, value);
      },
    });
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The visitor's session, loaded before your handlers run (sessionkit/express). */
      session: Session<any>;
    }
  }
}

/**
 * Express 5 middleware: `app.use(sessionMiddleware(sessions))` gives every handler a loaded
 * `req.session`; the session is committed before the response headers leave.
 */
export function sessionMiddleware<Data extends Record<string, any>>(sessions: Sessions<Data>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.app !== lastApp) prepareApp(req);
    // req.session reads the session attachSession registered for this response (see prepareApp)
    attachSession(sessions, req, res, () => next());
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
export function getSession<Data extends Record<string, any>>(req: Request): Session<Data> {
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
