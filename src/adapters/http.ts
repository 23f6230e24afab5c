import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionError } from '../core/errors.js';
import { consoleLogger } from '../core/log.js';
import type { Session } from '../core/session.js';
import { commitForResponse, type CommitResult, type Sessions } from '../core/sessions.js';
import { varyWithCookie } from '../core/cookie.js';

/** The status and text an adapter answers for a sessionkit error (400, 503, else 500). */
export function errorResponse(err: unknown): { status: number; body: string } {
  const code = err instanceof SessionError ? err.code : '';
  if (code === 'SESSION_INTERRUPTED') return { status: 400, body: 'Bad Request: the session was ended elsewhere (for example a logout in another tab). Please try again.\n' };
  if (code === 'STORE_UNAVAILABLE') return { status: 503, body: 'Service Unavailable: the session store cannot be reached. Please try again shortly.\n' };
  return { status: 500, body: 'Internal Server Error\n' };
}

/** Appends a Set-Cookie value to the ones already on a node response. */
export function applyResult(res: ServerResponse, result: CommitResult): void {
  if (result.vary) res.setHeader('Vary', varyWithCookie(res.getHeader('Vary') as string | undefined));
  if (result.setCookie !== null) {
    const prev = res.getHeader('Set-Cookie');
    res.setHeader('Set-Cookie', prev === undefined ? result.setCookie : [...(Array.isArray(prev) ? prev : [String(prev)]), result.setCookie]);
  }
}

/** Answers a sessionkit error on a node response whose headers have not left. */
export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = errorResponse(err);
  if (status === 500) consoleLogger.error('session commit failed', { error: String((err as Error)?.stack ?? err) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

type AnyFn = (...args: any[]) => any;

/**
 * Holds the response's head and body back until the session is committed, so the Set-Cookie and
 * Vary headers go out with it. A request that needs no store write commits synchronously.
 */
export function commitBeforeHeaders<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  res: ServerResponse,
): void {
  const write = res.write as AnyFn;
  const end = res.end as AnyFn;
  const writeHead = res.writeHead as AnyFn;
  let head: unknown[] | null = null;
  let queue: [AnyFn, unknown[]][] | null = null; // set while an async commit runs
  let done = false;

  const restore = () => {
    done = true;
    res.write = write as ServerResponse['write'];
    res.end = end as ServerResponse['end'];
    res.writeHead = writeHead as ServerResponse['writeHead'];
  };
  const flush = () => {
    restore();
    if (head) writeHead.apply(res, head);
    for (const [fn, args] of queue ?? []) fn.apply(res, args);
    queue = null;
  };
  const start = (fn: AnyFn, args: unknown[]): boolean => {
    if (queue) {
      queue.push([fn, args]);
      return true;
    }
    let result: CommitResult | Promise<CommitResult>;
    try {
      result = commitForResponse(sessions, session, res.statusCode);
    } catch (err) {
      restore();
      sendError(res, err);
      return false;
    }
    if (!(result instanceof Promise)) {
      applyResult(res, result);
      queue = [[fn, args]];
      flush();
      return true;
    }
    queue = [[fn, args]];
    result.then(
      (r) => {
        applyResult(res, r);
        flush();
      },
      (err) => {
        restore();
        sendError(res, err);
      },
    );
    return true;
  };

  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (done) return writeHead.apply(res, args);
    head = args;
    if (typeof args[0] === 'number') res.statusCode = args[0];
    return res;
  } as ServerResponse['writeHead'];
  res.write = function (...args: unknown[]) {
    return done ? write.apply(res, args) : start(write, args);
  } as ServerResponse['write'];
  res.end = function (...args: unknown[]) {
    if (done) return end.apply(res, args);
    start(end, args);
    return res;
  } as ServerResponse['end'];
}

/** Loads the request's session and arranges its commit; answers 503 itself when the store is down. */
export async function attachSession<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<Session<Data> | null> {
  let session: Session<Data>;
  try {
    session = await sessions.load(req);
  } catch (err) {
    sendError(res, err);
    return null;
  }
  commitBeforeHeaders(sessions, session, res);
  return session;
}
