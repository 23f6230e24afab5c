/**
 * node:http adapter: `http.createServer(withSession(sessions, (req, res, session) => …))`.
 * Guide: docs/adapters.md.
 *
 * @module sessionkit/node
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from '../core/session.js';
import { checkCsrf, type CsrfOptions, type CsrfRefusal } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import { nodeCsrfRequest, readNodeFormToken, sendCsrfRefusal } from './csrf-node.js';
import type { Sessions } from '../core/sessions.js';
import { attachSession, sendError } from './http.js';
import { onRejection } from './sequence.js';

/** A node:http request handler that also receives the request's loaded session. */
export type SessionHandler<Data extends Record<string, any>> = (
  req: IncomingMessage,
  res: ServerResponse,
  session: Session<Data>,
) => unknown;

/**
 * A node:http request listener that loads the session before `handler` runs and commits it
 * before the response headers leave: `http.createServer(withSession(sessions, handler))`.
 */
export function withSession<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  handler: SessionHandler<Data>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    attachSession(sessions, req, res, (session) => {
      try {
        onRejection(handler(req, res, session), fail, sessions, res, undefined);
      } catch (err) {
        fail(err, sessions, res);
      }
    });
  };
}

/** The options of `csrfProtection` (sessionkit/node). */
export interface NodeCsrfOptions<Data extends Record<string, any> = Record<string, any>> extends CsrfOptions {
  /**
   * Answers a refused request instead of the default 403 text (e.g. the site's own error page);
   * `refusal` says why (its `status` is 403, or 413 for a form over 1 MiB).
   */
  onRefused?: (req: IncomingMessage, res: ServerResponse, session: Session<Data>, refusal: CsrfRefusal) => unknown;
}

/**
 * CSRF protection around a handler: `withSession(sessions, csrfProtection(handler))`. A POST, PUT,
 * PATCH or DELETE passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser without
 * Fetch Metadata, on an `Origin` that is the request's own or a trusted one; a request with
 * neither header needs the session's CSRF token (`session.csrfToken()`) when the session holds
 * one, in the X-CSRF-Token header or the `csrf_token` field of an application/x-www-form-urlencoded
 * body (read only then, at most 1 MiB, and handed on parsed as `req.body`). Refused: 403.
 */
export function csrfProtection<Data extends Record<string, any>>(
  handler: SessionHandler<Data>,
  options: NodeCsrfOptions<Data> = {},
): SessionHandler<Data> {
  return csrfMiddleware(options, {
    method: (req: IncomingMessage) => req.method ?? 'GET',
    session: (_req, _res, session: Session<Data>) => session,
    needs: 'needs a session: withSession(sessions, csrfProtection(handler))',
    check: (session, resolved, req) => checkCsrf(session, nodeCsrfRequest(req), resolved, () => readNodeFormToken(req)),
    pass: (req, res: ServerResponse, session): unknown => handler(req, res, session),
    refused: (onRefused, refusal, req, res, session) => onRefused(req, res, session, refusal),
    refuse: (refusal, _req, res) => sendCsrfRefusal(res, refusal),
  });
}

/** The handler threw (or its promise rejected): an error answer, or the connection closed once the response has started. */
function fail(err: unknown, sessions: Sessions<any>, res: ServerResponse): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy(err as Error);
    return;
  }
  sendError(sessions, res, err);
}
