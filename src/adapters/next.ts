import { parseSetCookie } from '../core/set-cookie.js';
import { cookies, headers } from 'next/headers.js';
import { ConfigError } from '../core/errors.js';
import type { Session } from '../core/session.js';
import type { Sessions } from '../core/sessions.js';

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
    const cookie = value === undefined ? undefined : `${sessions.cookieName}=${encodeURIComponent(value)}`;
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
