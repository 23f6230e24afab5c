/**
 * Express adapter: `app.use(sessionMiddleware(sessions))`, then `req.session` or `getSession<Data>(req)`.
 * Guide: docs/adapters.md.
 *
 * @module sessionkit/express
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Session } from '../core/session.js';
import { checkCsrf, type CsrfOptions, type CsrfRefusal, type CsrfVerdict, isSafeMethod, resolveCsrfOptions } from '../core/csrf.js';
import { nodeCsrfRequest, readNodeFormToken, sendCsrfRefusal } from './csrf-node.js';
import { ConfigError } from '../core/errors.js';
import type { Sessions } from '../core/sessions.js';
import { sessionErrorResponse } from '../core/errors.js';
import type { ServerResponse } from 'node:http';
import { attachSession, installResponseHooks, pendingSession } from './http.js';
import type { DeclaredSessionData } from '../core/session-types.js';

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

/**
 * What sessionkit adds to Express's request (4 and 5): `req.session`, a `Session` of the data
 * declared in `SessionTypes`. It is added to the request of Express's handlers rather than to the
 * global `Express.Request`, so that @types/express-session (which declares `session` there) can
 * be installed beside it: then `req.session` keeps express-session's type, and `getSession(req)`
 * gives sessionkit's.
 */
declare module 'express-serve-static-core' {
  interface Request {
    /** The visitor's session, loaded before your handlers run (sessionkit/express). */
    session: Express.Request extends { session: infer Other } ? Other : Session<DeclaredSessionData>;
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
  const resolved = resolveCsrfOptions(options);
  const onRefused = options.onRefused;
  return (req: Request, res: Response, next: NextFunction) => {
    if (isSafeMethod(req.method)) return next();
    const session = req.session as Session<any> | undefined;
    if (!session) return next(new ConfigError('csrfProtection', 'needs a session: app.use(sessionMiddleware(sessions)) before it'));
    const decide = (verdict: CsrfVerdict) => {
      if (verdict.ok) return next();
      if (onRefused) return onRefused(req, res, verdict, next);
      sendCsrfRefusal(res, verdict);
    };
    const verdict = checkCsrf(session, nodeCsrfRequest(req), resolved, () => readNodeFormToken(req));
    if (verdict instanceof Promise) verdict.then(decide).catch(next);
    else decide(verdict);
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
