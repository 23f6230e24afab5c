/**
 * Fastify adapter: `app.register(sessionPlugin, { sessions })`, then `request.session` or
 * `getSession<Data>(request)`. Guide: docs/adapters.md.
 *
 * @module sessionkit/fastify
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Session } from '../core/session.js';
import {
  checkCsrf,
  CSRF_FIELD,
  CSRF_REFUSED_TEXT,
  CSRF_TOO_LARGE_TEXT,
  type CsrfOptions,
  type CsrfRefusal,
  type CsrfRequest,
} from '../core/csrf.js';
import { csrfMiddleware } from './csrf-middleware.js';
import type { CommitResponse, Sessions } from '../core/sessions.js';
import { ConfigError } from '../core/errors.js';
import { answerError, applyCommit, withSetCookie, type ResponseHeaders } from '../core/response.js';
import type { DeviceBoundAnswer } from '../core/device-bound-endpoint.js';
import { commitStep, deviceBoundStep, loadStep } from './sequence.js';
import type { DeclaredSessionData } from '../core/session-types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The visitor's session, loaded before your handlers run (sessionkit/fastify). */
    session: Session<DeclaredSessionData>;
  }
}

/** The options of `app.register(sessionPlugin, { sessions })`. */
export interface SessionPluginOptions {
  /** What `createSessions()` returned. */
  sessions: Sessions<any>;
}

/**
 * Set once a request's session is committed (onSend can run again, for an error page). A request
 * decoration under a symbol, not a WeakSet: Fastify gives every request the same shape with it, and
 * the collector has no ephemeron to trace per request.
 */
const COMMITTED: unique symbol = Symbol('sessionkit.committed');
type Marked = FastifyRequest & { [COMMITTED]: boolean };

/**
 * Fastify 5 plugin: `fastify.register(sessionPlugin, { sessions })` gives every handler a loaded
 * `request.session`, app-wide; the session is committed in `onSend`, before the headers leave.
 */
export function sessionPlugin(fastify: FastifyInstance, options: SessionPluginOptions, done: (err?: Error) => void): void {
  const sessions = options?.sessions;
  if (typeof sessions?.load !== 'function' || typeof sessions?.commit !== 'function') {
    done(new ConfigError('sessions', 'expected what createSessions() returned: fastify.register(sessionPlugin, { sessions })'));
    return;
  }
  fastify.decorateRequest<null, string>('session', null); // a string key: the value is null until onRequest sets it
  fastify.decorateRequest(COMMITTED, false);

  // The steps' callbacks, made once: a request allocates none of its own.
  const refused = (err: unknown, reply: FastifyReply, next: HookDone) => refuseLoad(sessions, reply, next, err);
  const failed = (err: unknown, reply: FastifyReply, payload: unknown, next: SendDone) => fail(sessions, reply, err, payload, next);

  fastify.addHook('onRequest', (request, reply, next) => {
    // POST {deviceBound.path}/register or /refresh: answered here
    if (deviceBoundStep(sessions, request.raw, answered, passOn, reply, next, undefined)) return;
    // no store I/O (no cookie, a cookie store, a synchronous store): no promise turn
    loadStep(sessions, request.raw, loaded, refused, reply, next, undefined);
  });

  fastify.addHook('onSend', (request, reply, payload, next) => {
    const session = request.session;
    if (!session || (request as Marked)[COMMITTED]) return next(null, payload);
    (request as Marked)[COMMITTED] = true;
    commitStep(sessions, session, reply.statusCode, applied, failed, reply, payload, next);
  });
  done();
}

type HookDone = (err?: Error) => void;
type SendDone = (err: Error | null, payload?: unknown) => void;

function answered(a: DeviceBoundAnswer, reply: FastifyReply): void {
  reply.code(a.status);
  for (const [name, value] of a.headers) reply.header(name, value); // Fastify appends a repeated Set-Cookie
  reply.send(a.body);
}

function passOn(err: unknown, _reply: FastifyReply, next: HookDone): void {
  next(err as Error);
}

function loaded(session: Session<any>, reply: FastifyReply, next: HookDone): void {
  reply.request.session = session;
  next();
}

function applied(result: CommitResponse, reply: FastifyReply, payload: unknown, next: SendDone): void {
  applyCommit(reply, fastifyHeaders, result);
  next(null, payload);
}

// Hooks apply to the whole app, not an encapsulated child context (what fastify-plugin does).
Object.assign(sessionPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sessionkit',
  [Symbol.for('plugin-meta')]: { name: 'sessionkit', fastify: '5.x' },
});

const fastifyHeaders: ResponseHeaders<FastifyReply> = {
  getVary: (reply) => reply.getHeader('Vary') as string | undefined,
  setVary: (reply, value) => reply.header('Vary', value),
  appendSetCookie: (reply, value) => reply.header('Set-Cookie', withSetCookie(reply.getHeader('Set-Cookie'), value)),
  get: (reply, name) => reply.getHeader(name),
  set: (reply, name, value) => reply.header(name, value),
  setHeader: (reply, name, value) => reply.header(name, value),
};

/** A load that failed: a sessionkit 400 or 503 answered here, anything else (and a 500) to Fastify's error handling. */
function refuseLoad(sessions: Sessions<any>, reply: FastifyReply, next: (err?: Error) => void, err: unknown): void {
  const answer = answerError(sessions.logger, err, true);
  if (answer === null || answer.status === 500) {
    next(err as Error);
    return;
  }
  reply.code(answer.status).type('text/plain; charset=utf-8').send(answer.text);
}

/** A commit that failed answers 400 or 503 in place of the response (nothing has left yet). */
function fail(
  sessions: Sessions<any>,
  reply: FastifyReply,
  err: unknown,
  payload: unknown,
  next: (err: Error | null, payload?: unknown) => void,
): void {
  const answer = answerError(sessions.logger, err, true);
  if (answer === null || answer.status === 500) {
    next(err as Error);
    return;
  }
  (payload as { destroy?: () => void } | null)?.destroy?.(); // a stream that will not be sent
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(answer.status).header('Content-Type', 'text/plain; charset=utf-8');
  next(null, answer.text);
}

/** The options of `csrfProtection` (sessionkit/fastify). */
export interface FastifyCsrfOptions extends CsrfOptions {
  /** Answers a refused request instead of the default 403 text, e.g. `(request, reply) => reply.code(403).view('csrf')`. */
  onRefused?: (request: FastifyRequest, reply: FastifyReply, refusal: CsrfRefusal) => unknown;
}

/**
 * CSRF protection as a preHandler hook: `fastify.addHook('preHandler', csrfProtection())`. A POST,
 * PUT, PATCH or DELETE passes on `Sec-Fetch-Site: same-origin` (or `none`), or, from a browser
 * without Fetch Metadata, on an `Origin` that is the request's own or a trusted one; a request
 * with neither header needs the session's CSRF token (`request.session.csrfToken()`) when the
 * session holds one, in the X-CSRF-Token header or the `csrf_token` field of the body Fastify
 * parsed (register `@fastify/formbody` for HTML forms; Fastify's `bodyLimit` is 1 MiB by default).
 */
export function csrfProtection(
  options: FastifyCsrfOptions = {},
): (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void {
  return csrfMiddleware(options, {
    method: (request: FastifyRequest) => request.method,
    session: (request) => request.session, // null until the plugin loads it
    needs: 'needs a session: fastify.register(sessionPlugin, { sessions }) first',
    missing: (err, _request, _reply, done: HookDone) => done(err),
    check: (session, resolved, request) => {
      const csrfRequest: CsrfRequest = {
        method: request.method,
        header: (name) => {
          const v = request.headers[name];
          return Array.isArray(v) ? v[0] : v;
        },
        protocol: request.protocol,
        host: request.headers.host ?? (request.headers[':authority'] as string | undefined),
      };
      const body = request.body as Record<string, unknown> | null | undefined;
      return checkCsrf(session, csrfRequest, resolved, () => (typeof body === 'object' && body !== null ? body[CSRF_FIELD] : undefined));
    },
    pass: (_request, _reply: FastifyReply, done) => done(),
    refused: (onRefused, refusal, request, reply, done) =>
      void Promise.resolve(onRefused(request, reply, refusal)).catch((err) => done(err as Error)),
    refuse: (refusal, _request, reply) => {
      reply
        .code(refusal.status)
        .type('text/plain; charset=utf-8')
        .send(refusal.status === 413 ? CSRF_TOO_LARGE_TEXT : CSRF_REFUSED_TEXT);
    },
    fail: (err, _request, _reply, done) => done(err as Error),
  });
}

/** The typed session of a request: `getSession<Data>(request)`. */
export function getSession<Data extends Record<string, any> = DeclaredSessionData>(request: FastifyRequest): Session<Data> {
  return request.session as Session<Data>;
}
