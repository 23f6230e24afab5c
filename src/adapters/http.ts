import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerError, applyCommit, logSessionError, nodeHeaders } from '../core/response.js';
import type { Session } from '../core/session.js';
import type { CommitResponse, Sessions } from '../core/sessions.js';
import type { DeviceBoundAnswer } from '../core/device-bound-endpoint.js';
import { commitStep, deviceBoundStep, loadStep } from './sequence.js';

/** Answers an error on a node response whose headers have not left: a sessionkit error's status and text, else 500. */
export function sendError(sessions: Sessions<any>, res: ServerResponse, err: unknown): void {
  let answer = answerError(sessions.logger, err);
  if (answer === null) {
    logSessionError(sessions.logger, err);
    answer = { status: 500, text: 'Internal Server Error\n' };
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(answer.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(answer.text) });
  res.end(answer.text);
}

/** Sends a DBSC endpoint's answer on a node response. */
export function sendAnswer(res: ServerResponse, a: DeviceBoundAnswer): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of a.headers) {
    const prev = headers[name];
    headers[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  headers['Content-Length'] = String(Buffer.byteLength(a.body));
  res.writeHead(a.status, headers);
  res.end(a.body);
}

type AnyFn = (...args: any[]) => any;

/** The response methods the hooks stand in for. */
interface Originals {
  write: AnyFn;
  end: AnyFn;
  writeHead: AnyFn;
}

/** One response's commit in progress. */
interface Pending {
  sessions: Sessions<any>;
  session: Session<any>;
  /** The arguments of a writeHead call held back until the commit is done. */
  head: IArguments | null;
  /** Writes held back while an async commit runs. */
  queue: [AnyFn, IArguments][] | null;
  done: boolean;
  /** What own-property hooks on this response wrap (null when the hooks sit on a prototype). */
  own: Originals | null;
  /** What an adapter keeps for this request beside the session (Express: the `req.session` view). */
  view: unknown;
}

/**
 * The response's commit in progress, as a named property of the response. Not a WeakMap: every
 * entry is an ephemeron the garbage collector must trace, which cost node:http a quarter of its
 * throughput. Not a symbol either: V8 stores a symbol-keyed property through its keyed path,
 * which turns an object with as many properties as a response into a dictionary (about 0.2 µs
 * on node:http, several µs on Express's responses); a named store stays on the fast path.
 */
type WithPending = ServerResponse & { _sessionkit?: Pending };
const pendingByResponse = {
  get: (res: ServerResponse): Pending | undefined => (res as WithPending)._sessionkit,
  set: (res: ServerResponse, p: Pending): void => {
    (res as WithPending)._sessionkit = p;
  },
};

/** Marks the hook functions installResponseHooks puts on a prototype. */
const PROTOTYPE_HOOK: unique symbol = Symbol('sessionkit.prototypeHook');

/** The prototypes (or objects) that carry hooks. */
const hooked = new WeakSet<object>();

/** The session a response is waiting to commit, if any (lets Express's `req.session` read it). */
export function pendingSession(res: ServerResponse): Session<any> | undefined {
  return pendingByResponse.get(res)?.session;
}

/** The response's commit in progress (its sessions, session and adapter's `view`), if any. */
export function pendingOf(res: ServerResponse): { sessions: Sessions<any>; session: Session<any>; view: unknown } | undefined {
  return pendingByResponse.get(res);
}

/**
 * The one set of writeHead/write/end hooks, made for where they sit: `originals(res)` gives the
 * methods they wrap. They hold a response back until its session is committed; a response
 * without a pending session passes straight through, so hooks on a shared prototype are inert
 * for everything else.
 */
function makeHooks(originals: (res: ServerResponse, p: Pending | undefined) => Originals): Originals {
  return {
    writeHead(this: ServerResponse) {
      const p = pendingByResponse.get(this);
      if (p === undefined || p.done) return Reflect.apply(originals(this, p).writeHead, this, arguments);
      p.head = arguments;
      if (typeof arguments[0] === 'number') this.statusCode = arguments[0];
      return this;
    },
    write(this: ServerResponse) {
      const p = pendingByResponse.get(this);
      const o = originals(this, p);
      if (p === undefined || p.done) return Reflect.apply(o.write, this, arguments);
      return start(this, p, o, o.write, arguments);
    },
    end(this: ServerResponse) {
      const p = pendingByResponse.get(this);
      const o = originals(this, p);
      if (p === undefined || p.done) return Reflect.apply(o.end, this, arguments);
      start(this, p, o, o.end, arguments);
      return this;
    },
  };
}

/**
 * Hooks set as own properties of one response (node:http, whose responses keep a stable shape):
 * shared functions, so a request allocates no closures. Prototype hooks would need
 * Object.setPrototypeOf on each response, which sends node's own hot paths to slow code.
 */
const ownHooks = makeHooks((_res, p) => p!.own!);

/**
 * Puts the hooks on `target`, a response prototype (Express's base response, shared by every
 * app): responses that inherit them need nothing set per request.
 */
export function installResponseHooks(target: object): void {
  if (hooked.has(target)) return;
  const t = target as ServerResponse;
  const o: Originals = { write: t.write as AnyFn, end: t.end as AnyFn, writeHead: t.writeHead as AnyFn };
  const hooks = makeHooks(() => o);
  for (const fn of [hooks.writeHead, hooks.write, hooks.end]) Reflect.set(fn, PROTOTYPE_HOOK, true);
  const method = (value: AnyFn) => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperties(target, { writeHead: method(hooks.writeHead), write: method(hooks.write), end: method(hooks.end) });
  hooked.add(target);
}

/** The first write or end: commit, then let the head and the held-back writes go. */
function start(res: ServerResponse, p: Pending, o: Originals, fn: AnyFn, args: IArguments): unknown {
  if (p.queue !== null) {
    p.queue.push([fn, args]);
    return true;
  }
  const committed = commitStep(p.sessions, p.session, res.statusCode, released, failed, res, p, o);
  if (committed === undefined) {
    p.queue = [[fn, args]]; // the commit writes to the store: hold this write until it is done
    return true;
  }
  return committed ? Reflect.apply(fn, res, args) : false;
}

/** The commit is done: the response goes out with its headers (and what was held back while it ran). */
function released(result: CommitResponse, res: ServerResponse, p: Pending, o: Originals): boolean {
  release(res, p, o, result);
  const queue = p.queue;
  if (queue !== null) {
    p.queue = null;
    for (const [f, a] of queue) Reflect.apply(f, res, a);
  }
  return true;
}

/** The commit failed: its error is answered in place of the response. */
function failed(err: unknown, res: ServerResponse, p: Pending): boolean {
  p.done = true;
  p.queue = null;
  sendError(p.sessions, res, err);
  return false;
}

function release(res: ServerResponse, p: Pending, o: Originals, result: CommitResponse): void {
  applyCommit(res, nodeHeaders, result);
  p.done = true;
  if (p.head !== null) Reflect.apply(o.writeHead, res, p.head);
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
  const p: Pending = { sessions, session, head: null, queue: null, done: false, own: null, view: null };
  pendingByResponse.set(res, p);
  if (hooksInChain(res)) return; // hooks on a prototype (the Express adapter puts them on its app's)
  p.own = { write: res.write as AnyFn, end: res.end as AnyFn, writeHead: res.writeHead as AnyFn };
  res.writeHead = ownHooks.writeHead as ServerResponse['writeHead'];
  res.write = ownHooks.write as ServerResponse['write'];
  res.end = ownHooks.end as ServerResponse['end'];
}

/** Whether the writeHead/write/end this response will call are all hooks on a prototype (three inline-cached checks). */
function hooksInChain(res: ServerResponse): boolean {
  return PROTOTYPE_HOOK in res.writeHead && PROTOTYPE_HOOK in res.write && PROTOTYPE_HOOK in res.end;
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
  // POST {deviceBound.path}/register or /refresh: answered here
  if (deviceBoundStep(sessions, req, answered, refused, res, sessions, next)) return;
  loadStep(sessions, req, loaded, refused, res, sessions, next);
}

function answered(a: DeviceBoundAnswer, res: ServerResponse): void {
  sendAnswer(res, a);
}

/** A load that failed (or a DBSC endpoint's error that is not sessionkit's): answered here. */
function refused(err: unknown, res: ServerResponse, sessions: Sessions<any>): void {
  sendError(sessions, res, err);
}

function loaded<Data extends Record<string, any>>(
  session: Session<Data>,
  res: ServerResponse,
  sessions: Sessions<Data>,
  next: (session: Session<Data>) => void,
): void {
  commitBeforeHeaders(sessions, session, res);
  next(session);
}
