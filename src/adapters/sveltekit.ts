import { checkRequestCsrf, type CsrfOptions, type CsrfRefusal, csrfRefusal } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import type { Session } from '../core/session.js';
import type { Sessions } from '../core/sessions.js';
import { fetchAnswers } from './fetch.js';
import { runSequence, type Translation } from './sequence.js';

/**
 * The part of SvelteKit's `RequestEvent` the hook reads and writes; Kit 2 and Kit 3 events both have it.
 */
export interface SessionRequestEvent {
  request: Request;
  locals: object;
}

/**
 * A SvelteKit `Handle` (Kit 2 declares it in `@sveltejs/kit`, Kit 3 in `@sveltejs/kit/hooks`),
 * declared here by its shape so that sessionkit's types hold with either, under
 * `skipLibCheck: false`: assignable to `Handle` and usable in `sequence(...)`.
 */
export type SessionHandle = <Event extends SessionRequestEvent>(input: {
  event: Event;
  resolve: (event: Event) => Response | Promise<Response>;
}) => Promise<Response>;

/**
 * SvelteKit's server hook: `export const handle = sessionHandle(sessions)` in src/hooks.server.ts
 * (or one step of `sequence(...)`). Loads the session into `event.locals.session` before the
 * route's load functions, actions and endpoints run, and commits it on the response `resolve`
 * gives (pages, `__data.json`, form actions, `+server` endpoints alike), with `Set-Cookie` and
 * `Vary: Cookie`. Type it in src/app.d.ts: `interface Locals { session: Session<Data> }`.
 */
export function sessionHandle<Data extends Record<string, any>>(sessions: Sessions<Data>): SessionHandle {
  const t: Translation<Data, HandleInput, undefined, Response> = {
    ...fetchAnswers<HandleInput, undefined>(sessions),
    request: (input) => input.event.request,
    endpointRequest: (input) => input.event.request,
    run: (session, { event, resolve }) => {
      (event.locals as { session: Session<Data> }).session = session;
      // The cookie goes on the response resolve() made: event.cookies can no longer be set once it
      // has, and only then is the status known (a response of 500 or above saves nothing).
      return resolve(event);
    },
  };
  return (input) => runSequence(sessions, t, input, undefined);
}

/** What SvelteKit hands a `Handle` (a method, so that a `resolve` of any `Event` is one). */
interface HandleInput {
  event: SessionRequestEvent;
  resolve(event: SessionRequestEvent): Response | Promise<Response>;
}

/** The options of `csrfProtection` (sessionkit/sveltekit). */
export interface SvelteKitCsrfOptions extends CsrfOptions {
  /** Answers a refused request instead of the default 403 text (e.g. the site's own error page). */
  onRefused?: (event: SessionRequestEvent, refusal: CsrfRefusal) => Response | Promise<Response>;
}

/**
 * A SvelteKit `Handle` to run after `sessionHandle`: `export const handle =
 * sequence(sessionHandle(sessions), csrfProtection())`. A POST, PUT, PATCH or DELETE (form
 * actions, `+server` endpoints) passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a
 * browser without Fetch Metadata, on an `Origin` that is the request's own or a trusted one; a
 * request with neither header needs the session's CSRF token (`event.locals.session.csrfToken()`)
 * when the session holds one, in the X-CSRF-Token header or the `csrf_token` form field (read from
 * a copy of the body, only then and at most 1 MiB). Refused: 403.
 */
export function csrfProtection(options: SvelteKitCsrfOptions = {}): SessionHandle {
  const csrf = csrfMiddleware(options, {
    method: (input: HandleInput) => input.event.request.method,
    session: ({ event }) => (event.locals as { session?: Session<any> }).session,
    needs: 'needs a session: sequence(sessionHandle(sessions), csrfProtection())',
    check: (session, resolved, { event }) => checkRequestCsrf(session, event.request, resolved),
    pass: ({ event, resolve }) => resolve(event),
    refused: (onRefused, refusal, { event }) => onRefused(event, refusal),
    refuse: (refusal) => csrfRefusal(refusal),
  });
  return async (input) => csrf(input, undefined, undefined);
}
