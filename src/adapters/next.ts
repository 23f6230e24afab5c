import { parseSetCookie } from '../core/set-cookie.js';
import { cookies, headers } from 'next/headers.js';
import {
  checkRequestCsrf,
  type CsrfOptions,
  type CsrfRefusal,
  csrfRefusal,
  type ResolvedCsrfOptions,
  withTrustProxyOf,
} from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import { ConfigError } from '../core/errors.js';
import type { Session } from '../core/session.js';
import { deviceBoundOf, type Sessions } from '../core/sessions.js';
import { deviceBoundRequest } from '../core/device-bound-endpoint.js';
import { answerResponse } from './fetch.js';

type Jar = Awaited<ReturnType<typeof cookies>>;

interface Owner {
  sessions: Sessions<any>;
  jar: Jar;
}

/** Per request (Next keeps one cookie jar per request): each Sessions' load, so a page and its layout load once. */
const loads = new WeakMap<Jar, Map<Sessions<any>, Promise<Session<any>>>>();
const owners = new WeakMap<Session<any>, Owner>();

/**
 * The request's session in the App Router, read through `cookies()` from `next/headers`:
 * `const session = await getSession(sessions)` in a route handler, a Server Action or a Server
 * Component (where it is read-only: Server Components cannot set cookies). Loaded once per
 * request. After changing it, `await commitSession(session)` (route handlers, Server Actions).
 * For middleware (proxy.ts / middleware.ts) and route handlers that return a Response, the
 * fetch-style `withSession` from `sessionkit/web` also adds `Vary: Cookie`.
 */
export async function getSession<Data extends Record<string, any>>(sessions: Sessions<Data>): Promise<Session<Data>> {
  const jar = await cookies();
  let perJar = loads.get(jar);
  if (perJar === undefined) {
    perJar = new Map();
    loads.set(jar, perJar);
  }
  let loaded = perJar.get(sessions) as Promise<Session<Data>> | undefined;
  if (loaded === undefined) {
    const value = jar.get(sessions.cookieName)?.value;
    const cookie = value === undefined ? undefined : `${sessions.cookieName}=${encodeURIComponent(value)}${boundCookie(sessions, jar)}`;
    loaded = sessions.load(requestOf(await headers(), cookie));
    loaded.then(
      (session) => owners.set(session, { sessions, jar }),
      () => perJar.delete(sessions),
    );
    perJar.set(sessions, loaded);
  }
  return loaded;
}

/**
 * The request as `login` reads it: the cookie from Next's jar (which sees cookies a Server Action
 * set earlier), the user agent, and the client address. `next start` puts the socket's address
 * in X-Forwarded-For when the request had none, so its last entry stands for the socket (with
 * `trustProxy`, the header is read as behind any proxy).
 */
function requestOf(incoming: Headers, cookie: string | undefined): { headers: Record<string, string>; socket: { remoteAddress?: string } } {
  const forwarded = incoming.get('x-forwarded-for') ?? '';
  const last = forwarded.slice(forwarded.lastIndexOf(',') + 1).trim();
  const headers: Record<string, string> = cookie === undefined ? {} : { cookie };
  for (const name of ['user-agent', 'x-forwarded-for']) {
    const value = incoming.get(name);
    if (value !== null) headers[name] = value;
  }
  return { headers, socket: last === '' ? {} : { remoteAddress: last } };
}

/**
 * Saves what changed and sets (or expires) the session cookie through `cookies().set(name,
 * value, options)`: call it in a route handler or a Server Action before it returns.
 */
export async function commitSession<Data extends Record<string, any>>(session: Session<Data>): Promise<void> {
  const owner = owners.get(session);
  if (owner === undefined) throw new ConfigError('session', 'commitSession takes a session from getSession(sessions) of sessionkit/next');
  const { cookie, expireCookies } = await owner.sessions.commitResponse(session);
  if (cookie === null) return;
  try {
    owner.jar.set(cookie.name, cookie.value, cookie.options);
    for (const expired of expireCookies) {
      const { name, value, ...options } = parseSetCookie(expired);
      owner.jar.set(name, value ?? '', options as Parameters<Jar['set']>[2]);
    }
  } catch (err) {
    throw new ConfigError(
      'commitSession',
      `Next.js refused to set the session cookie (${(err as Error).message}); change the session in a Server Action or a route handler, not in a Server Component`,
    );
  }
}

/** The options of `csrfProtection` (sessionkit/next). */
export interface NextCsrfOptions extends CsrfOptions {
  /**
   * The sessions whose CSRF token a request with neither Sec-Fetch-Site nor Origin must carry
   * (read through `getSession(sessions)`, only for such a request). Without it such requests
   * (not from a browser) pass, as with Go's CrossOriginProtection.
   */
  sessions?: Sessions<any>;
  /** Answers a refused request instead of the default 403 text (e.g. the site's own error page). */
  onRefused?: (request: Request, refusal: CsrfRefusal) => Response | Promise<Response>;
}

/**
 * CSRF protection around an App Router route handler: `export const POST =
 * csrfProtection(async (request) => …, { sessions })`. A POST, PUT, PATCH or DELETE passes on
 * `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser without Fetch Metadata, on an
 * `Origin` that is the request's own or a trusted one; a request with neither header needs the
 * session's CSRF token (`(await getSession(sessions)).csrfToken()`) when the session holds one,
 * in the X-CSRF-Token header or the `csrf_token` form field (read from a copy of the body, only
 * then and at most 1 MiB). Refused: 403. (Server Actions are checked by Next.js itself.)
 */
export function csrfProtection<Rest extends unknown[]>(
  handler: (request: Request, ...rest: Rest) => Response | Promise<Response>,
  options: NextCsrfOptions = {},
): (request: Request, ...rest: Rest) => Promise<Response> {
  const { sessions } = options;
  const load = () => (sessions ? getSession(sessions) : null); // called only when the headers do not decide
  let withProxy: ResolvedCsrfOptions | undefined;
  const csrf = csrfMiddleware(options, {
    method: (request: Request) => request.method,
    session: () => load,
    needs: 'needs its sessions: csrfProtection(handler, { sessions })',
    check: (session, resolved, request) => checkRequestCsrf(session, request, (withProxy ??= withTrustProxyOf(resolved, sessions))),
    pass: (request, rest: Rest) => handler(request, ...rest),
    refused: (onRefused, refusal, request) => onRefused(request, refusal),
    refuse: (refusal) => csrfRefusal(refusal),
  });
  if (sessions !== undefined && typeof sessions?.load !== 'function') {
    throw new ConfigError('sessions', 'expected what createSessions() returned: csrfProtection(handler, { sessions })');
  }
  return async (request, ...rest) => csrf(request, rest, undefined);
}

/** `; {name}={value}` of the bound cookie (`deviceBound`) when the request carries one, else ''. */
function boundCookie(sessions: Sessions<any>, jar: Jar): string {
  const name = deviceBoundOf(sessions)?.options.cookieName;
  const value = name === undefined ? undefined : jar.get(name)?.value;
  return value === undefined ? '' : `; ${name}=${encodeURIComponent(value)}`;
}

/**
 * The device-bound session endpoints (`deviceBound`) for Next.js, which has no hook that sees
 * every request but its proxy (middleware): the Response for `POST {deviceBound.path}/register`
 * and `/refresh`, or null for any other request. In proxy.ts (Node.js runtime):
 * `export async function proxy(request) { return (await deviceBoundResponse(sessions, request)) ?? NextResponse.next(); }`.
 * The sign-in route handler sends the registration header when it uses `withSession` from
 * `sessionkit/web` (a Server Action cannot set response headers).
 */
export function deviceBoundResponse(sessions: Sessions<any>, request: Request): Promise<Response> | null {
  const answer = deviceBoundRequest(sessions, request);
  return answer === null ? null : answer.then(answerResponse);
}
