import type { DefaultState, Middleware, ParameterizedContext } from 'koa';
import type { Session } from '../core/session.js';
import { answerError, applyCommit } from '../core/response.js';
import { loadForRequest, type CommitResponse, type Sessions } from '../core/sessions.js';
import { deviceBoundRequest } from '../core/device-bound-endpoint.js';

/** The Koa context that types `ctx.session`: `new Koa<DefaultState, SessionContext<Data>>()`. */
export interface SessionContext<Data extends Record<string, any> = Record<string, any>> {
  session: Session<Data>;
}

/**
 * Koa 2 and 3 middleware: `app.use(sessionMiddleware(sessions))` gives every later middleware a
 * loaded `ctx.session` and commits it once they have finished, before Koa sends the response.
 */
export function sessionMiddleware<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
): Middleware<DefaultState, SessionContext<Data>> {
  return async (ctx, next) => {
    const dbsc = deviceBoundRequest(sessions, ctx.req); // POST {deviceBound.path}/register or /refresh
    if (dbsc !== null) {
      const a = await dbsc;
      ctx.status = a.status;
      for (const [name, value] of a.headers) name === 'Set-Cookie' ? ctx.append(name, value) : ctx.set(name, value);
      ctx.body = a.body;
      return;
    }
    let session: Session<Data>;
    try {
      const loaded = loadForRequest(sessions, ctx.req); // no promise when there is no cookie
      session = loaded instanceof Promise ? await loaded : loaded;
    } catch (err) {
      return answer(sessions, ctx, err);
    }
    ctx.session = session;
    await next();
    let result: CommitResponse | Promise<CommitResponse>;
    try {
      result = sessions.commitResponse(session, { status: ctx.status });
      if (result instanceof Promise) result = await result;
    } catch (err) {
      for (const name of Object.keys(ctx.response.headers)) ctx.remove(name);
      return answer(sessions, ctx, err);
    }
    applyCommit(ctx, koaHeaders, result);
  };
}

/** Koa's response headers, for applyCommit (Vary merged by applyCommit, Set-Cookie appended). */
const koaHeaders = {
  getVary: (ctx: ParameterizedContext) => (ctx.response.get('Vary') as string) || undefined,
  setVary: (ctx: ParameterizedContext, value: string) => ctx.set('Vary', value),
  appendSetCookie: (ctx: ParameterizedContext, value: string) => ctx.append('Set-Cookie', value),
  setHeader: (ctx: ParameterizedContext, name: string, value: string) => ctx.set(name, value),
};

/** A sessionkit error's status and text (400, 503, or a logged 500); anything else goes to Koa's error handling. */
function answer(sessions: Sessions<any>, ctx: ParameterizedContext, err: unknown): void {
  const a = answerError(sessions.logger, err);
  if (a === null) throw err;
  ctx.status = a.status;
  ctx.type = 'text/plain; charset=utf-8';
  ctx.body = a.text;
}
