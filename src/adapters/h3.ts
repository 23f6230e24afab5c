import { type H3Event, type Middleware, toResponse } from 'h3';
import { ConfigError } from '../core/errors.js';
import { checkRequestCsrf, type CsrfOptions, type CsrfRefusal, csrfRefusal, withTrustProxyOf } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import type { Session } from '../core/session.js';
import type { Sessions } from '../core/sessions.js';
import { answerResponse, errorAnswer, fetchAnswers } from './fetch.js';
import { commitSequence, loadPromise } from './sequence.js';
import { deviceBoundRequest } from '../core/device-bound-endpoint.js';

/** Per event: the session's load (memoised, so concurrent callers load once) and its Sessions. */
interface Slot {
  sessions: Sessions<any> | null;
  loaded: Promise<Session<any>> | null;
}

const slots = new WeakMap<H3Event, Slot>();

/**
 * h3 2 middleware (Nitro, Nuxt): `app.use(sessionMiddleware(sessions))`. A handler that calls
 * `useSession(event, sessions)` gets its session committed after it returns, before the response
 * leaves; a request that never asks for its session costs nothing.
 */
export function sessionMiddleware<Data extends Record<string, any>>(sessions: Sessions<Data>): Middleware {
  const answers = fetchAnswers<H3Event, undefined>(sessions);
  return async (event, next) => {
    const dbsc = deviceBoundRequest(sessions, event.req); // POST {deviceBound.path}/register or /refresh
    if (dbsc !== null) return answerResponse(await dbsc);
    const slot: Slot = { sessions, loaded: null };
    slots.set(event, slot);
    let raw: unknown;
    try {
      raw = await next();
    } catch (err) {
      if (slot.loaded === null) throw err;
      return errorAnswer(sessions, err); // a failed load (503), awaited by the handler; anything else is rethrown
    }
    if (slot.loaded === null) return raw;
    let session: Session<Data>;
    try {
      session = await slot.loaded;
    } catch (err) {
      return errorAnswer(sessions, err);
    }
    return commitSequence(sessions, session, await toResponse(raw, event), answers, event, undefined);
  };
}

/** The request's session, loaded once per request: `const session = await useSession(event, sessions)`. */
export function useSession<Data extends Record<string, any>>(event: H3Event, sessions: Sessions<Data>): Promise<Session<Data>> {
  const slot = slots.get(event);
  if (slot === undefined || slot.sessions !== sessions) {
    throw new ConfigError('sessions', 'useSession(event, sessions) needs app.use(sessionMiddleware(sessions)) with the same sessions');
  }
  slot.loaded ??= loadPromise(sessions, event.req);
  return slot.loaded as Promise<Session<Data>>;
}

/** The options of `csrfProtection` (sessionkit/h3). */
export interface H3CsrfOptions extends CsrfOptions {
  /** Answers a refused request instead of the default 403 text (anything an h3 handler may return). */
  onRefused?: (event: H3Event, refusal: CsrfRefusal) => unknown;
}

/**
 * CSRF protection, after `sessionMiddleware`: `app.use(csrfProtection())`. A POST, PUT, PATCH or
 * DELETE passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser without Fetch
 * Metadata, on an `Origin` that is the request's own or a trusted one; a request with neither
 * header needs the session's CSRF token (`(await useSession(event, sessions)).csrfToken()`) when
 * the session holds one (loaded only then), in the X-CSRF-Token header or the `csrf_token` form
 * field (read from a copy of the body, only then and at most 1 MiB). Refused: 403.
 */
export function csrfProtection(options: H3CsrfOptions = {}): Middleware {
  const csrf = csrfMiddleware(options, {
    method: (event: H3Event) => event.req.method,
    session: (event) => slots.get(event)?.sessions, // the session itself is loaded only when the headers do not decide
    needs: 'needs a session: app.use(sessionMiddleware(sessions)) before it',
    check: (sessions, resolved, event) =>
      checkRequestCsrf(() => useSession(event, sessions), event.req, withTrustProxyOf(resolved, sessions)),
    pass: (_event, next: Parameters<Middleware>[1]) => next(),
    refused: (onRefused, refusal, event) => onRefused(event, refusal),
    refuse: (refusal) => csrfRefusal(refusal),
  });
  return async (event, next) => csrf(event, next, undefined);
}
