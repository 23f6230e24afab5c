import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionError } from '../core/errors.js';
import { consoleLogger } from '../core/log.js';
import type { Session } from '../core/session.js';
import { commitForResponse, loadForRequest, type CommitResult, type Sessions } from '../core/sessions.js';
import { varyWithCookie } from '../core/cookie.js';

/** The status and text an adapter answers for a sessionkit error (400, 503, else 500). */
export function errorResponse(err: unknown): { status: number; body: string } {
  const code = err instanceof SessionError ? err.code : '';
  if (code === 'SESSION_INTERRUPTED')
    return { status: 400, body: 'Bad Request: the session was ended elsewhere (for example a logout in another tab). Please try again.\n' };
  if (code === 'STORE_UNAVAILABLE')
    return { status: 503, body: 'Service Unavailable: the session store cannot be reached. Please try again shortly.\n' };
  return { status: 500, body: 'Internal Server Error\n' };
}

/** The Set-Cookie header value with `cookie` added after what the application already set. */
export function withSetCookie(prev: unknown, cookie: string): string | string[] {
  return prev === undefined ? cookie : [...(Array.isArray(prev) ? prev : [String(prev)]), cookie];
}

/** Adds the commit's Vary and Set-Cookie to a node response, keeping the application's own. */
export function applyResult(res: ServerResponse, result: CommitResult): void {
  if (result.vary) res.setHeader('Vary', varyWithCookie(res.getHeader('Vary') as string | undefined));
  if (result.setCookie !== null) res.setHeader('Set-Cookie', withSetCookie(res.getHeader('Set-Cookie'), result.setCookie));
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

/** One response's commit in progress; the hooks below are shared by every response. */
interface Pending {
  sessions: Sessions<any>;
  session: Session<any>;
  /** The arguments of a writeHead call held back until the commit is done. */
  head: IArguments | null;
  /** Writes held back while an async commit runs. */
  queue: [AnyFn, IArguments][] | null;
  done: boolean;
  /** The methods the own-property hooks wrap (null when the hooks sit on a prototype). */
  write: AnyFn | null;
  end: AnyFn | null;
  writeHead: AnyFn | null;
}

/**
 * The responses whose session is not committed yet. A WeakMap rather than a property on the
 * response: adding a property to a framework's response object (Express switches its prototype
 * on every request) takes V8's slow path and costs more than the whole commit.
 */
const pendingByResponse = new WeakMap<ServerResponse, Pending>();

interface Originals {
  write: AnyFn;
  end: AnyFn;
  writeHead: AnyFn;
}

const hooked = new WeakSet<object>();

/** The session a response is waiting to commit, if any (lets Express's `req.session` read it). */
export function pendingSession(res: ServerResponse): Session<any> | undefined {
  return pendingByResponse.get(res)?.session;
}

/**
 * Puts writeHead/write/end hooks on `target` (a response prototype, or one response), which hold
 * a response back until its session is committed. A response without a pending session passes
 * straight through, so hooks on a shared prototype are inert for everything else.
 */
export function installResponseHooks(target: object): void {
  if (hooked.has(target)) return;
  const t = target as ServerResponse;
  const o: Originals = { write: t.write as AnyFn, end: t.end as AnyFn, writeHead: t.writeHead as AnyFn };
  function writeHead(this: ServerResponse) {
    const p = pendingByResponse.get(this);
    if (p === undefined || p.done) return o.writeHead.apply(this, arguments as unknown as unknown[]);
    p.head = arguments;
    if (typeof arguments[0] === 'number') this.statusCode = arguments[0];
    return this;
  }
  function write(this: ServerResponse) {
    const p = pendingByResponse.get(this);
    return p === undefined || p.done ? o.write.apply(this, arguments as unknown as unknown[]) : start(this, p, o, o.write, arguments);
  }
  function end(this: ServerResponse) {
    const p = pendingByResponse.get(this);
    if (p === undefined || p.done) return o.end.apply(this, arguments as unknown as unknown[]);
    start(this, p, o, o.end, arguments);
    return this;
  }
  const method = (value: AnyFn) => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperties(target, { writeHead: method(writeHead), write: method(write), end: method(end) });
  hooked.add(target);
}

/** The first write or end: commit, then let the head and the held-back writes go. */
function start(res: ServerResponse, p: Pending, o: Originals, fn: AnyFn, args: IArguments): unknown {
  if (p.queue !== null) {
    p.queue.push([fn, args]);
    return true;
  }
  let result: CommitResult | Promise<CommitResult>;
  try {
    result = commitForResponse(p.sessions, p.session, res.statusCode);
  } catch (err) {
    p.done = true;
    sendError(res, err);
    return false;
  }
  if (!(result instanceof Promise)) {
    applyResult(res, result);
    p.done = true;
    if (p.head !== null) o.writeHead.apply(res, p.head as unknown as unknown[]);
    return fn.apply(res, args as unknown as unknown[]);
  }
  p.queue = [[fn, args]];
  result.then(
    (r) => {
      applyResult(res, r);
      p.done = true;
      if (p.head !== null) o.writeHead.apply(res, p.head as unknown as unknown[]);
      const queue = p.queue!;
      p.queue = null;
      for (const [f, a] of queue) f.apply(res, a as unknown as unknown[]);
    },
    (err) => {
      p.done = true;
      p.queue = null;
      sendError(res, err);
    },
  );
  return true;
}

/*
 * Hooks set as own properties of one response (node:http, whose responses keep a stable shape):
 * shared functions, so a request allocates no closures. Prototype hooks would need
 * Object.setPrototypeOf on each response, which sends node's own hot paths to slow code.
 */
function ownWriteHead(this: ServerResponse) {
  const p = pendingByResponse.get(this) as Pending & Originals;
  if (p.done) return p.writeHead.apply(this, arguments as unknown as unknown[]);
  p.head = arguments;
  if (typeof arguments[0] === 'number') this.statusCode = arguments[0];
  return this;
}

function ownWrite(this: ServerResponse) {
  const p = pendingByResponse.get(this) as Pending & Originals;
  return p.done ? p.write.apply(this, arguments as unknown as unknown[]) : start(this, p, p, p.write, arguments);
}

function ownEnd(this: ServerResponse) {
  const p = pendingByResponse.get(this) as Pending & Originals;
  if (p.done) return p.end.apply(this, arguments as unknown as unknown[]);
  start(this, p, p, p.end, arguments);
  return this;
}

/**
 * Holds the response's head and body back until the session is committed, so the Set-Cookie and
 * Vary headers go out with it. A request that needs no store write commits synchronously.
 */
export function commitBeforeHeaders<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  res: ServerResponse,
): void {
  const p: Pending = { sessions, session, head: null, queue: null, done: false, write: null, end: null, writeHead: null };
  pendingByResponse.set(res, p);
  if (hooksInChain(res)) return; // hooks on a shared prototype (the Express adapter puts them there)
  p.write = res.write as AnyFn;
  p.end = res.end as AnyFn;
  p.writeHead = res.writeHead as AnyFn;
  res.writeHead = ownWriteHead as ServerResponse['writeHead'];
  res.write = ownWrite as ServerResponse['write'];
  res.end = ownEnd as ServerResponse['end'];
}

/** Whether the writeHead/write/end this response will call are the hooks. */
function hooksInChain(res: object): boolean {
  for (let p: object | null = res; p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, 'end') || Object.hasOwn(p, 'write') || Object.hasOwn(p, 'writeHead')) return hooked.has(p);
  }
  return false;
}

/**
 * Loads the request's session and arranges its commit, then calls `next(session)`: at once when
 * the request carries no session cookie (no store I/O), after the load otherwise. Answers 503
 * (or 400) itself when loading fails.
 */
export function attachSession<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  next: (session: Session<Data>) => void,
): void {
  let loaded: Session<Data> | Promise<Session<Data>>;
  try {
    loaded = loadForRequest(sessions, req);
  } catch (err) {
    sendError(res, err);
    return;
  }
  if (loaded instanceof Promise) {
    loaded.then(
      (session) => {
        commitBeforeHeaders(sessions, session, res);
        next(session);
      },
      (err) => sendError(res, err),
    );
  } else {
    commitBeforeHeaders(sessions, loaded, res);
    next(loaded);
  }
}
