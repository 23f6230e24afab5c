// The two DBSC endpoints (`POST {deviceBound.path}/register` and `/refresh`), framework-neutral:
// every adapter hands its request to `deviceBoundRequest` and sends back what it answers.
import {
  type Binding,
  bindingOf,
  consumeChallenge,
  cookieDigest,
  dbscHeader,
  DEVICE_KEY,
  type DeviceBound,
  type EndpointRequest,
  isDeviceBound,
  newBoundCookieValue,
  newChallenge,
  type PublicJwk,
  type ProofAlg,
  sfString,
  sfStringValue,
  verifyProof,
  withChallenge,
  CHALLENGE_TTL,
} from './device-bound.js';
import { SessionInterruptedError } from './errors.js';
import { answerError } from './response.js';
import type { Session } from './session.js';
import { deviceBoundOf, type CommitResponse, type Sessions } from './sessions.js';

/** What an adapter sends for a DBSC endpoint: a status, headers (Set-Cookie may repeat) and a body. */
export interface DeviceBoundAnswer {
  status: number;
  headers: [string, string][];
  body: string;
}

/**
 * The answer to a request for one of the DBSC endpoints of `sessions` (`POST
 * {deviceBound.path}/register` or `/refresh`), or null, at once, for every other request (and
 * when `deviceBound` is off): then the adapter goes on as usual. The answer never rejects for a
 * sessionkit error (a store outage is a 503 answer); anything else is a bug, left to the framework.
 */
export function deviceBoundRequest(sessions: Sessions<any>, req: EndpointRequest | null): Promise<DeviceBoundAnswer> | null {
  const bound = deviceBoundOf(sessions);
  if (bound === null || req === null || typeof req !== 'object' || req.method !== 'POST') return null;
  const path = pathOf(req);
  if (path === bound.refreshPath) return answer(sessions, bound, req, refresh);
  if (path === bound.registerPath) return answer(sessions, bound, req, register);
  return null;
}

type Endpoint = (sessions: Sessions<any>, bound: DeviceBound, req: EndpointRequest, session: Session<any>) => Promise<DeviceBoundAnswer>;

async function answer(sessions: Sessions<any>, bound: DeviceBound, req: EndpointRequest, endpoint: Endpoint): Promise<DeviceBoundAnswer> {
  try {
    bound.markEndpoint(req as object);
    return await endpoint(sessions, bound, req, await sessions.load(req));
  } catch (err) {
    const a = answerError(sessions.logger, err); // a store outage: 503, logged at most once a minute
    if (a === null) throw err;
    return { status: a.status, headers: [...NO_STORE, ['Content-Type', 'text/plain; charset=utf-8']], body: a.text };
  }
}

function pathOf(req: EndpointRequest): string | null {
  const url = (req as { originalUrl?: unknown }).originalUrl ?? req.url;
  if (typeof url !== 'string') return null;
  let path = url;
  if (url.charCodeAt(0) !== 0x2f) {
    try {
      path = new URL(url).pathname;
    } catch {
      return null;
    }
  }
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

const NO_STORE: [string, string][] = [['Cache-Control', 'no-store']];

function json(status: number, body: unknown, more: [string, string][] = []): DeviceBoundAnswer {
  return { status, headers: [...NO_STORE, ['Content-Type', 'application/json'], ...more], body: JSON.stringify(body) };
}

/** `{"continue": false}`: the browser ends its device-bound session (the server-side one is gone or is another). */
function ended(): DeviceBoundAnswer {
  return json(200, { continue: false });
}

/** A refused registration or signed refresh: 400 (a 4xx other than 403), the session untouched; logged, rate-limited. */
function refused(bound: DeviceBound, what: 'registration' | 'refresh', reason: string): DeviceBoundAnswer {
  bound.log.warn(`refused a device-bound session ${what}`, { reason });
  return {
    status: 400,
    headers: [...NO_STORE, ['Content-Type', 'text/plain; charset=utf-8']],
    body: `Bad Request: the device-bound session ${what} was refused.\n`,
  };
}

/** The session cookie and Vary a commit asks for, as answer headers. */
function commitHeaders(result: CommitResponse): [string, string][] {
  const out: [string, string][] = [];
  if (result.setCookie !== null) out.push(['Set-Cookie', result.setCookie]);
  for (const c of result.expireCookies) out.push(['Set-Cookie', c]);
  if (result.vary) out.push(['Vary', 'Cookie']);
  return out;
}

/**
 * Commits `session`; a challenge a parallel request used first (the modify re-run on the fresh
 * record throws SessionInterruptedError) comes back as null: nothing was written.
 */
async function commit(sessions: Sessions<any>, session: Session<any>, status: number): Promise<CommitResponse | null> {
  try {
    return await sessions.commitResponse(session, { status });
  } catch (err) {
    if (err instanceof SessionInterruptedError) return null;
    throw err;
  }
}

/** The JSON session instructions (spec § "JSON Session Instruction Format"). */
function instructions(bound: DeviceBound, req: EndpointRequest, id: string): Record<string, unknown> {
  const origin = originOf(req, bound.trustProxy);
  return {
    session_identifier: id,
    refresh_url: bound.refreshPath,
    scope: origin === null ? { include_site: false } : { origin, include_site: false },
    credentials: [{ type: 'cookie', name: bound.options.cookieName, attributes: bound.attributes }],
  };
}

function proofOf(req: EndpointRequest): string | null {
  return sfStringValue(dbscHeader(req, 'secure-session-response', 'sec-session-response'));
}

/** Bound cookies after handing out `digest`: the newest still-good earlier one is kept for requests already on their way. */
function cookiesAfter(b: Binding | null, digest: string, until: number, now: number): { h: string; u: number }[] {
  const earlier = (b?.ck ?? []).filter((c) => c !== null && typeof c === 'object' && c.u > now).slice(-1);
  return [...earlier, { h: digest, u: until }];
}

function usedInParallel(): never {
  throw new SessionInterruptedError('sessionkit: this device-bound challenge was used by a parallel request');
}

const register: Endpoint = async (sessions, bound, req, session) => {
  const token = proofOf(req);
  if (token === null) return refused(bound, 'registration', 'no Secure-Session-Response header');
  const verdict = await verifyProof(token, null);
  if (!verdict.ok) return refused(bound, 'registration', verdict.reason);
  const { jti, alg, authorization } = verdict.proof;
  const jwk = verdict.proof.jwk!;
  const id = session.id;
  if (session.key === null || id === null) return ended();
  const now = bound.now();
  const b = bindingOf(session.toJSON());
  const found = consumeChallenge(b, jti, 'reg', now);
  if (found === null)
    return refused(bound, 'registration', 'the challenge (jti) was not issued to this session for registration, has expired, or was used');
  if (found.used.a !== undefined && authorization !== found.used.a)
    return refused(bound, 'registration', 'the authorization claim is not the one sent');
  const value = newBoundCookieValue();
  const digest = cookieDigest(value);
  const until = now + bound.options.cookieMaxAge * 1000;
  const jkt = verdict.proof.jkt!;
  session.modify(
    DEVICE_KEY as never,
    ((current: Binding | null) => {
      const again = consumeChallenge(current, jti, 'reg', now) ?? usedInParallel();
      const next: Binding = { jwk, alg, jkt, at: now, sid: id, ck: cookiesAfter(current, digest, until, now), ch: again.rest };
      return next;
    }) as never,
  );
  const result = await commit(sessions, session, 200);
  if (result === null) return refused(bound, 'registration', 'the challenge was used by a parallel request');
  return json(200, instructions(bound, req, id), [['Set-Cookie', bound.setCookie(value)], ...commitHeaders(result)]);
};

const refresh: Endpoint = async (sessions, bound, req, session) => {
  const id = sfStringValue(dbscHeader(req, 'sec-secure-session-id', 'sec-session-id'));
  if (id === null) return refused(bound, 'refresh', 'no Sec-Secure-Session-Id header');
  // revoked, flushed, expired, never bound, or bound to another key since: the browser lets this one go
  if (session.key === null) return ended();
  const data = session.toJSON();
  if (!isDeviceBound(data)) return ended();
  const b = bindingOf(data)!;
  if (id !== (b.sid ?? session.id)) return ended();
  const now = bound.now();
  const token = proofOf(req);
  if (token === null) {
    const challenge = newChallenge();
    session.modify(
      DEVICE_KEY as never,
      ((current: Binding | null) => withChallenge(current, { c: challenge, k: 'ref', u: now + CHALLENGE_TTL * 1000 }, now)) as never,
    );
    const result = await commit(sessions, session, 403);
    if (result === null) return ended(); // the session went away meanwhile
    return {
      status: 403,
      headers: [...NO_STORE, ['Secure-Session-Challenge', `${sfString(challenge)};id=${sfString(id)}`], ...commitHeaders(result)],
      body: '',
    };
  }
  const verdict = await verifyProof(token, { jwk: b.jwk as PublicJwk, alg: b.alg as ProofAlg, jkt: b.jkt });
  if (!verdict.ok) return refused(bound, 'refresh', verdict.reason);
  const jti = verdict.proof.jti;
  if (consumeChallenge(b, jti, 'ref', now) === null)
    return refused(bound, 'refresh', 'the challenge (jti) was not issued to this session, has expired, or was used');
  const value = newBoundCookieValue();
  const digest = cookieDigest(value);
  const until = now + bound.options.cookieMaxAge * 1000;
  const jkt = b.jkt;
  session.modify(
    DEVICE_KEY as never,
    ((current: Binding | null) => {
      // a registration of another key in parallel: this proof no longer speaks for the session
      if (current?.jkt !== jkt) usedInParallel();
      const again = consumeChallenge(current, jti, 'ref', now) ?? usedInParallel();
      return { ...current, ck: cookiesAfter(current, digest, until, now), ch: again.rest };
    }) as never,
  );
  const result = await commit(sessions, session, 200);
  if (result === null) return refused(bound, 'refresh', 'the challenge was used by a parallel request');
  return json(200, instructions(bound, req, id), [['Set-Cookie', bound.setCookie(value)], ...commitHeaders(result)]);
};

/** `scope.origin`: the request's own origin, from X-Forwarded-Proto and -Host only as `trustProxy` allows; null when unknown. */
function originOf(req: EndpointRequest, trustProxy: boolean | number): string | null {
  const header = (name: string) => dbscHeader(req, name, name);
  let proto: string | undefined;
  let host: string | undefined;
  const url = req.url;
  if (typeof url === 'string' && url.charCodeAt(0) !== 0x2f) {
    try {
      const u = new URL(url);
      proto = u.protocol.slice(0, -1);
      host = u.host;
    } catch {}
  } else {
    const socket = (req as { socket?: { encrypted?: boolean } }).socket;
    proto = socket?.encrypted ? 'https' : 'http';
    host = header('host');
  }
  if (trustProxy !== false) {
    const first = (v: string | undefined) => v?.split(',')[0]?.trim() || undefined;
    proto = first(header('x-forwarded-proto')) ?? proto;
    host = first(header('x-forwarded-host')) ?? host;
  }
  if (proto === undefined || host === undefined || (proto !== 'http' && proto !== 'https')) return null;
  try {
    return new URL(`${proto}://${host}`).origin;
  } catch {
    return null;
  }
}
