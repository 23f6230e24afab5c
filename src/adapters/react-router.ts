import {
  createContext,
  type MiddlewareFunction,
  type RouterContextProvider,
  type Session as RouterSession,
  type SessionStorage,
} from 'react-router';
import { checkRequestCsrf, type CsrfOptions, type CsrfRefusal, csrfRefusal } from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import { ConfigError } from '../core/errors.js';
import type { Session } from '../core/session.js';
import { currentCookie, type Sessions } from '../core/sessions.js';
import { fetchAnswers, withCommit } from './fetch.js';
import { runSequence, type Translation } from './sequence.js';

const sessionContext = createContext<Session<any>>();

/**
 * React Router 7 server middleware (framework mode with `future.v8_middleware`, or data mode):
 * `export const middleware = [sessionMiddleware(sessions)]` in root.tsx. The loaded session goes
 * into the router context (read it with `getSession(context)`); it is committed once the loaders
 * and actions have run, and the response gets its `Set-Cookie` and `Vary: Cookie`.
 */
export function sessionMiddleware<Data extends Record<string, any>>(sessions: Sessions<Data>): MiddlewareFunction<Response> {
  const answers = fetchAnswers<RouterArgs, RouterNext>(sessions);
  const t: Translation<Data, RouterArgs, RouterNext, Response> = {
    ...answers,
    request: (args) => args.request,
    endpointRequest: (args) => args.request,
    run: (session, { context }, next) => {
      context.set(sessionContext, session);
      return next();
    },
    commit: (response, result) => varyOnSessionCookie(sessions, withCommit(response, result)),
    commitFailed: async (err, response, args, next) => varyOnSessionCookie(sessions, await answers.commitFailed(err, response, args, next)),
  };
  return (args, next) => runSequence(sessions, t, args, next);
}

/** What React Router hands a middleware. */
type RouterArgs = Parameters<MiddlewareFunction<Response>>[0];
type RouterNext = Parameters<MiddlewareFunction<Response>>[1];

/** The options of `csrfProtection` (sessionkit/react-router). */
export interface RouterCsrfOptions extends CsrfOptions {
  /** Answers a refused request instead of the default 403 text (e.g. the site's own error page). */
  onRefused?: (args: { request: Request; context: Readonly<RouterContextProvider> }, refusal: CsrfRefusal) => Response | Promise<Response>;
}

/**
 * React Router 7 server middleware after `sessionMiddleware`: `export const middleware =
 * [sessionMiddleware(sessions), csrfProtection()]`. A POST, PUT, PATCH or DELETE (an action)
 * passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser without Fetch Metadata,
 * on an `Origin` that is the request's own or a trusted one; a request with neither header needs
 * the session's CSRF token when the session holds one, in the X-CSRF-Token header or the
 * `csrf_token` form field (read from a copy of the body, only then and at most 1 MiB). Refused: 403.
 */
export function csrfProtection(options: RouterCsrfOptions = {}): MiddlewareFunction<Response> {
  const csrf = csrfMiddleware(options, {
    method: (args: RouterArgs) => args.request.method,
    session: (args) => {
      try {
        return args.context.get(sessionContext);
      } catch {
        return undefined;
      }
    },
    needs: 'needs a session: put sessionMiddleware(sessions) before it in `middleware`',
    check: (session, resolved, args) => checkRequestCsrf(session, args.request, resolved),
    pass: (_args, next: RouterNext) => next(),
    refused: (onRefused, refusal, { request, context }) => onRefused({ request, context }, refusal),
    refuse: (refusal) => csrfRefusal(refusal),
  });
  return async (args, next) => csrf(args, next, undefined);
}

/**
 * A response that carries the session cookie set by the drop-in's `commitSession` (a loader that
 * read the session) varies on Cookie too, as the middleware's own session does.
 */
function varyOnSessionCookie(sessions: Sessions<any>, response: Response): Response {
  const prefix = `${sessions.cookieName}=`;
  if (!response.headers.getSetCookie().some((c) => c.startsWith(prefix))) return response;
  const vary = response.headers.get('Vary') ?? '';
  if (/(^|,)\s*(cookie|\*)\s*(,|$)/i.test(vary)) return response;
  try {
    response.headers.set('Vary', vary === '' ? 'Cookie' : `${vary}, Cookie`);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set('Vary', vary === '' ? 'Cookie' : `${vary}, Cookie`);
    return copy;
  }
}

/** The request's session in a loader, action or later middleware: `getSession<Data>(context)`. */
export function getSession<Data extends Record<string, any> = Record<string, any>>(
  context: Readonly<RouterContextProvider>,
): Session<Data> {
  return context.get(sessionContext) as Session<Data>;
}

/**
 * A session from `sessionStorage(...).getSession()`: React Router's Session, plus `cycleKey` and
 * `login` as on sessionkit's own sessions. `id` is the public id (the SHA-256 digest of the key,
 * safe to show and log; '' until saved), never the key.
 */
export interface StorageSession<Data extends Record<string, any> = Record<string, any>> extends RouterSession<Data, Data> {
  /** Keeps the data under a new key and deletes the old one (call it at login, against fixation). */
  cycleKey(): Promise<void>;
  /** Signs the user in: a new key, bound to `userId` for listUserSessions / revokeUserSessions, with user agent and address. */
  login(userId: string): Promise<void>;
  /** The user this session is signed in as, or null. */
  readonly userId: string | null;
}

const inner = new WeakMap<object, Session<any>>();

function wrap<Data extends Record<string, any>>(session: Session<Data>): StorageSession<Data> {
  const wrapper: StorageSession<Data> = {
    get id() {
      return session.id ?? '';
    },
    get userId() {
      return session.userId;
    },
    get data() {
      return structuredClone(session.toJSON()) as Partial<Data>;
    },
    has: (name) => session.has(name),
    get: (name) => session.get(name) as never,
    set: (name, value) => session.set(name, value),
    flash: (name, value) => session.flash(name, value),
    unset: (name) => void session.delete(name),
    cycleKey: () => session.cycleKey(),
    login: (userId) => session.login(userId),
  };
  inner.set(wrapper, session);
  return wrapper;
}

interface CommitOptions {
  /** Seconds until the session expires, as `session.setExpiry(maxAge)`. */
  maxAge?: number;
  /** When the session expires, as `session.setExpiry(expires)`. */
  expires?: Date;
}

/**
 * A drop-in for the object `createSessionStorage`, `createCookieSessionStorage` and friends
 * return: `const { getSession, commitSession, destroySession } = sessionStorage(sessions)`.
 * An app written against React Router's (or Remix's) session API switches by changing the storage
 * factory only, and keeps sessionkit's behaviour: parallel requests' changes merged, a store write
 * only when the session changed, flash values read once. `commitSession` always answers a cookie,
 * as React Router's own storages do: the saved one, or, when nothing changed, the session's
 * cookie re-sent with its current expiry (no store write); never an empty string.
 * `commitSession`'s `maxAge` / `expires` set the session's expiry. With `sessionMiddleware` in
 * root.tsx, a response carrying this cookie also gets `Vary: Cookie`.
 */
export function sessionStorage<Data extends Record<string, any> = Record<string, any>>(
  sessions: Sessions<Data>,
): Omit<SessionStorage<Data, Data>, 'getSession'> & {
  getSession(cookieHeader?: string | null): Promise<StorageSession<Data>>;
} {
  const unwrap = (session: RouterSession<Data, Data>): Session<Data> => {
    const s = inner.get(session);
    if (s === undefined)
      throw new ConfigError('session', "commitSession and destroySession take a session from the same storage's getSession");
    return s;
  };
  return {
    async getSession(cookieHeader) {
      return wrap(await sessions.load(cookieHeader ?? undefined));
    },
    async commitSession(session, options?: CommitOptions) {
      const s = unwrap(session);
      if (options?.expires !== undefined) s.setExpiry(options.expires);
      else if (options?.maxAge !== undefined) s.setExpiry(options.maxAge);
      return (await sessions.commit(s)) ?? currentCookie(sessions, s);
    },
    async destroySession(session) {
      const s = unwrap(session);
      await s.flush();
      return (await sessions.commit(s)) ?? currentCookie(sessions, s);
    },
  };
}
