/**
 * node:http adapter: `http.createServer(withSession(sessions, (req, res, session) => …))`.
 * Guide: docs/adapters.md.
 *
 * @module sessionkit/node
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from '../core/session.js';
import {
  checkCsrf,
  CSRF_FIELD,
  CSRF_HEADER,
  CSRF_REFUSED_TEXT,
  type CsrfOptions,
  csrfRequest,
  isSafeMethod,
  resolveCsrfOptions,
} from '../core/csrf.js';
import type { Sessions } from '../core/sessions.js';
import { attachSession, sendError } from './http.js';

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
        const out = handler(req, res, session);
        if (out instanceof Promise) out.catch((err) => fail(sessions, res, err));
      } catch (err) {
        fail(sessions, res, err);
      }
    });
  };
}

/** The most bytes of a form body `csrfProtection` reads to find its token. */
const MAX_FORM_BYTES = 1024 * 1024;

/**
 * CSRF protection around a handler: `withSession(sessions, csrfProtection(handler))` answers 403
 * to a POST, PUT, PATCH or DELETE sent from another origin, or whose session holds a CSRF token
 * (`session.csrfToken()`) while the request carries no matching X-CSRF-Token header or
 * `csrf_token` form field. To find the field, an application/x-www-form-urlencoded body is read
 * (up to 1 MiB) and handed on parsed as `req.body` (an object of its fields).
 */
export function csrfProtection<Data extends Record<string, any>>(
  handler: SessionHandler<Data>,
  options: CsrfOptions = {},
): SessionHandler<Data> {
  const trusted = resolveCsrfOptions(options);
  return async (req, res, session) => {
    const method = req.method ?? 'GET';
    if (isSafeMethod(method)) return handler(req, res, session);
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    let field: unknown;
    const withBody = req as IncomingMessage & { body?: unknown };
    if (header(CSRF_HEADER) === undefined && /^application\/x-www-form-urlencoded\b/i.test(header('content-type') ?? '')) {
      if (withBody.body === undefined) {
        const text = await readBody(req);
        if (text === null) {
          res.writeHead(413, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
          res.end('Payload Too Large: the form is over 1 MiB.\n');
          return;
        }
        withBody.body = Object.fromEntries(new URLSearchParams(text));
      }
      field = (withBody.body as Record<string, unknown>)[CSRF_FIELD];
    }
    if (checkCsrf(session, csrfRequest(method, header, field), trusted).ok) return handler(req, res, session);
    res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(CSRF_REFUSED_TEXT) });
    res.end(CSRF_REFUSED_TEXT);
  };
}

/** The body as text, or null past MAX_FORM_BYTES (the rest is not read). */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        req.pause();
        resolve(null);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function fail(sessions: Sessions<any>, res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy(err as Error);
    return;
  }
  sendError(sessions, res, err);
}
