import type { Session } from '../core/session.js';
import { checkRequestCsrf, type CsrfOptions, type CsrfRefusal, csrfRefusal } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import type { Sessions } from '../core/sessions.js';
import { fetchAnswers } from './fetch.js';
import { runSequence, type Translation } from './sequence.js';

/** A fetch-style handler that also receives the request's session; `rest` is what the runtime passes after the request. */
export type WebSessionHandler<Data extends Record<string, any>, Rest extends unknown[] = unknown[]> = (
  request: Request,
  session: Session<Data>,
  ...rest: Rest
) => Response | Promise<Response>;

/**
 * Wraps a fetch-style handler, `(request, session) => Response`: the session is loaded before
 * `handler` runs and committed before the response is returned, with `Set-Cookie` and
 * `Vary: Cookie` added (a response with immutable headers, such as `Response.redirect()`, is
 * copied). Serves Bun.serve, Deno.serve, Cloudflare Workers, Next.js route handlers and
 * SvelteKit endpoints; whatever the runtime passes after the request (Bun's server, a Worker's
 * env and ctx, Next's `{ params }`) reaches `handler` after the session.
 */
export function withSession<Data extends Record<string, any>, Rest extends unknown[] = unknown[]>(
  sessions: Sessions<Data>,
  handler: WebSessionHandler<Data, Rest>,
): (request: Request, ...rest: Rest) => Promise<Response> {
  const t: Translation<Data, Request, Rest, Response> = {
    ...fetchAnswers<Request, Rest>(sessions),
    request: (request) => request,
    endpointRequest: (request) => request,
    run: (session, request, rest) => handler(request, session, ...rest),
  };
  return (request, ...rest) => runSequence(sessions, t, request, rest);
}

/** The options of `csrfProtection` (sessionkit/web). */
export interface WebCsrfOptions<Data extends Record<string, any> = Record<string, any>> extends CsrfOptions {
  /** Answers a refused request instead of the default 403 text (e.g. the site's own error page). */
  onRefused?: (request: Request, session: Session<Data>, refusal: CsrfRefusal) => Response | Promise<Response>;
}

/**
 * CSRF protection around a fetch-style handler: `withSession(sessions, csrfProtection(handler))`.
 * A POST, PUT, PATCH or DELETE passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a
 * browser without Fetch Metadata, on an `Origin` that is the request's own or a trusted one; a
 * request with neither header needs the session's CSRF token (`session.csrfToken()`) when the
 * session holds one, in the X-CSRF-Token header or the `csrf_token` form field (read from a copy
 * of the body, only then and at most 1 MiB, so `handler` can still read it). Refused: 403.
 */
export function csrfProtection<Data extends Record<string, any>, Rest extends unknown[] = unknown[]>(
  handler: WebSessionHandler<Data, Rest>,
  options: WebCsrfOptions<Data> = {},
): WebSessionHandler<Data, Rest> {
  const csrf = csrfMiddleware(options, {
    method: (request: Request) => request.method,
    session: (_request, session: Session<Data>) => session,
    needs: 'needs a session: withSession(sessions, csrfProtection(handler))',
    check: (session, resolved, request) => checkRequestCsrf(session, request, resolved),
    pass: (request, session, rest: Rest) => handler(request, session, ...rest),
    refused: (onRefused, refusal, request, session) => onRefused(request, session, refusal),
    refuse: (refusal) => csrfRefusal(refusal),
  });
  return async (request, session, ...rest) => csrf(request, session, rest);
}
