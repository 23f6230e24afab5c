import type { Context, MiddlewareHandler } from 'hono';
import type { Session } from '../core/session.js';
import { commitForResponse, loadForRequest, type CommitResult, type Sessions } from '../core/sessions.js';
import { varyWithCookie } from '../core/cookie.js';
import { errorResponse } from './http.js';

/** The Hono env that types `c.get('session')`: `new Hono<SessionEnv<Data>>()`. */
export type SessionEnv<Data extends Record<string, any> = Record<string, any>> = {
  Variables: { session: Session<Data> };
};

/**
 * Hono 4 middleware: `app.use(sessionMiddleware(sessions))` gives every handler a loaded
 * `c.get('session')` and commits it once the handler has answered, before the response leaves.
 * Web-standard only (Request, Response, Headers), so it runs on any runtime Hono runs on.
 */
export function sessionMiddleware<Data extends Record<string, any>>(sessions: Sessions<Data>): MiddlewareHandler<SessionEnv<Data>> {
  return async (c, next) => {
    let session: Session<Data>;
    try {
      const loaded = loadForRequest(sessions, c.req.raw); // no promise when there is no cookie
      session = loaded instanceof Promise ? await loaded : loaded;
    } catch (err) {
      return answerError(err);
    }
    c.set('session', session);
    await next();
    let result: CommitResult | Promise<CommitResult>;
    try {
      result = commitForResponse(sessions, session, c.res.status);
      if (result instanceof Promise) result = await result;
    } catch (err) {
      await c.res.body?.cancel().catch(() => {});
      c.res = undefined; // drop the handler's response and its headers, as the other adapters do
      c.res = answerError(err);
      return;
    }
    if (!result.vary && result.setCookie === null) return;
    let headers = c.res.headers;
    try {
      apply(headers, result);
    } catch {
      // immutable headers (e.g. Response.redirect() or a fetched response): copy the response
      c.res = new Response(c.res.body, c.res);
      headers = c.res.headers;
      apply(headers, result);
    }
  };
}

function apply(headers: Headers, result: CommitResult): void {
  if (result.vary) headers.set('Vary', varyWithCookie(headers.get('Vary') ?? undefined));
  if (result.setCookie !== null) headers.append('Set-Cookie', result.setCookie);
}

/** 400 (SessionInterruptedError) or 503 (StoreUnavailableError); anything else is rethrown to Hono's onError. */
function answerError(err: unknown): Response {
  const { status, body } = errorResponse(err);
  if (status === 500) throw err;
  return new Response(body, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

/** The typed session of a request: `getSession<Data>(c)`. */
export function getSession<Data extends Record<string, any>>(c: Context): Session<Data> {
  return c.get('session') as Session<Data>;
}
