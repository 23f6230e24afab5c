import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Session } from '../core/session.js';
import { commitForResponse, type CommitResult, type Sessions } from '../core/sessions.js';
import { ConfigError } from '../core/errors.js';
import { varyWithCookie } from '../core/cookie.js';
import { errorResponse, withSetCookie } from './http.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The visitor's session, loaded before your handlers run (sessionkit/fastify). */
    session: Session<any>;
  }
}

export interface SessionPluginOptions {
  /** What `createSessions()` returned. */
  sessions: Sessions<any>;
}

/** Requests whose commit already ran: an error reply re-runs onSend, which must not commit twice. */
const committed = new WeakSet<FastifyRequest>();

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
  fastify.decorateRequest('session', null as unknown as Session<any>);

  fastify.addHook('onRequest', (request, reply, next) => {
    sessions.load(request.raw).then(
      (session) => {
        request.session = session;
        next();
      },
      (err) => {
        const { status, body } = errorResponse(err);
        if (status === 500) return next(err);
        reply.code(status).type('text/plain; charset=utf-8').send(body);
      },
    );
  });

  fastify.addHook('onSend', (request, reply, payload, next) => {
    const session = request.session;
    if (!session || committed.has(request)) return next(null, payload);
    committed.add(request);
    let result: CommitResult | Promise<CommitResult>;
    try {
      result = commitForResponse(sessions, session, reply.statusCode);
    } catch (err) {
      return fail(reply, err, payload, next);
    }
    if (!(result instanceof Promise)) {
      apply(reply, result);
      return next(null, payload);
    }
    result.then(
      (r) => {
        apply(reply, r);
        next(null, payload);
      },
      (err) => fail(reply, err, payload, next),
    );
  });
  done();
}

// Hooks apply to the whole app, not an encapsulated child context (what fastify-plugin does).
Object.assign(sessionPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sessionkit',
  [Symbol.for('plugin-meta')]: { name: 'sessionkit', fastify: '5.x' },
});

function apply(reply: FastifyReply, result: CommitResult): void {
  if (result.vary) reply.header('Vary', varyWithCookie(reply.getHeader('Vary') as string | undefined));
  if (result.setCookie !== null) reply.header('Set-Cookie', withSetCookie(reply.getHeader('Set-Cookie'), result.setCookie));
}

/** A commit that failed answers 400 or 503 in place of the response (nothing has left yet). */
function fail(reply: FastifyReply, err: unknown, payload: unknown, next: (err: Error | null, payload?: unknown) => void): void {
  const { status, body } = errorResponse(err);
  if (status === 500) {
    next(err as Error);
    return;
  }
  (payload as { destroy?: () => void } | null)?.destroy?.(); // a stream that will not be sent
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(status).header('Content-Type', 'text/plain; charset=utf-8');
  next(null, body);
}

/** The typed session of a request: `getSession<Data>(request)`. */
export function getSession<Data extends Record<string, any>>(request: FastifyRequest): Session<Data> {
  return request.session as Session<Data>;
}
