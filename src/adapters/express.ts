import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Session } from '../core/session.js';
import type { Sessions } from '../core/sessions.js';
import { SessionError } from '../core/errors.js';
import { attachSession, errorResponse } from './http.js';

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
    attachSession(sessions, req, res).then((session) => {
      if (session === null) return;
      req.session = session as Session<any>;
      next();
    }, next);
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
    if (!(err instanceof SessionError) || res.headersSent) return next(err);
    const { status, body } = errorResponse(err);
    res.status(status).type('text/plain').send(body);
  };
}
