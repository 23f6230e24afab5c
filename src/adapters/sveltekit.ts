import type { Session } from '../core/session.js';
import { loadForRequest, type Sessions } from '../core/sessions.js';
import { commitToResponse, errorAnswer } from './fetch.js';

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
  return async ({ event, resolve }) => {
    let session: Session<Data>;
    try {
      const loaded = loadForRequest(sessions, event.request);
      session = loaded instanceof Promise ? await loaded : loaded;
    } catch (err) {
      return errorAnswer(sessions, err);
    }
    (event.locals as { session: Session<Data> }).session = session;
    // The cookie goes on the response resolve() made: event.cookies can no longer be set once it
    // has, and only then is the status known (a response of 500 or above saves nothing).
    return commitToResponse(sessions, session, await resolve(event));
  };
}
