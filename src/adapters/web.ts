import type { Session } from '../core/session.js';
import { loadForRequest, type Sessions } from '../core/sessions.js';
import { answerResponse, commitToResponse, errorAnswer } from './fetch.js';
import { deviceBoundRequest } from '../core/device-bound-endpoint.js';

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
  return async (request, ...rest) => {
    const dbsc = deviceBoundRequest(sessions, request); // POST {deviceBound.path}/register or /refresh
    if (dbsc !== null) return answerResponse(await dbsc);
    let session: Session<Data>;
    try {
      const loaded = loadForRequest(sessions, request);
      session = loaded instanceof Promise ? await loaded : loaded;
    } catch (err) {
      return errorAnswer(sessions, err);
    }
    return commitToResponse(sessions, session, await handler(request, session, ...rest));
  };
}
