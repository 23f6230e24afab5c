/**
 * The request sequence every adapter runs, written once: the device-bound endpoints answered
 * (`POST {deviceBound.path}/register` and `/refresh`), the session loaded, the application run,
 * the session committed (`sessions.commitResponse(session, { status })`), and the commit put on
 * the framework's response (or a failed load or commit answered). The engine answers at once when
 * it can (no cookie, a cookie store, a synchronous store) and with a promise otherwise: this is
 * the only adapter module that tells the two apart, so an adapter only translates.
 *
 * Two forms over the same steps:
 * - continuation-passing steps (`loadStep`, `commitStep`, `deviceBoundStep`, `settle`) for the
 *   callback-style servers (node:http, Express, Fastify): they call back before returning when
 *   the value is there, adding no promise turn, and take up to three context values (`a`, `b`,
 *   `c`) that they hand to the callbacks, so that callbacks made once per middleware serve every
 *   request without a closure per request;
 * - `runSequence`, an async function, for the promise-based frameworks (Hono, Koa, web,
 *   SvelteKit, React Router), with `commitSequence` its second half (h3 loads lazily).
 */
import { type DeviceBoundAnswer, deviceBoundRequest } from '../core/device-bound-endpoint.js';
import type { Session } from '../core/session.js';
import { type CommitResponse, loadForRequest, type Sessions } from '../core/sessions.js';

/** The request as `deviceBoundRequest` reads it. */
type EndpointRequest = Parameters<typeof deviceBoundRequest>[1];
/** The request as `loadForRequest` reads it (its cookie, user agent and address). */
export type LoadRequest = Parameters<typeof loadForRequest>[1];

/** A continuation: the value (or error), then the context the step was given. */
export type Then<T, A, B, C, R> = (value: T, a: A, b: B, c: C) => R;

/**
 * Calls `onValue(value, a, b, c)` before returning when `value` is not a promise and answers what
 * it returned; else calls `onValue` (or `onError` for a rejection) once the promise settles and
 * answers undefined. The promise's callbacks are the only closures, made only then.
 */
export function settle<T, A, B, C, R>(
  value: T | Promise<T>,
  onValue: Then<T, A, B, C, R>,
  onError: Then<unknown, A, B, C, R>,
  a: A,
  b: B,
  c: C,
): R | undefined {
  if (!(value instanceof Promise)) return onValue(value, a, b, c);
  value.then(
    (v) => onValue(v, a, b, c),
    (err: unknown) => onError(err, a, b, c),
  );
  return undefined;
}

/**
 * `onValue(value, a, b, c)` at once when `value` is not a promise (answering what it returns),
 * else the promise of it once `value` resolves (a rejection passes on to that promise).
 */
export function chain<T, A, B, C, R>(value: T | Promise<T>, onValue: Then<T, A, B, C, R>, a: A, b: B, c: C): R | Promise<R> {
  return value instanceof Promise ? value.then((v) => onValue(v, a, b, c)) : onValue(value, a, b, c);
}

/**
 * `onValue(value, a, b, c)` at once when `value` is not a promise (answering what it returns, and
 * letting what it throws go up); else undefined, and `onValue` once `value` resolves, with
 * `onError` for a rejection or for what `onValue` then throws (a callback-style framework's `next(err)`).
 */
export function chainCaught<T, A, B, C, R>(
  value: T | Promise<T>,
  onValue: Then<T, A, B, C, R>,
  onError: Then<unknown, A, B, C, unknown>,
  a: A,
  b: B,
  c: C,
): R | undefined {
  if (!(value instanceof Promise)) return onValue(value, a, b, c);
  value.then((v) => onValue(v, a, b, c)).catch((err: unknown) => onError(err, a, b, c));
  return undefined;
}

/** Calls `onError(err, a, b, c)` when `value` is a promise that rejects (an application handler's answer); nothing otherwise. */
export function onRejection<A, B, C>(value: unknown, onError: Then<unknown, A, B, C, unknown>, a: A, b: B, c: C): void {
  if (value instanceof Promise) value.catch((err: unknown) => onError(err, a, b, c));
}

/**
 * The device-bound endpoints: false at once for every other request (and when `deviceBound` is
 * off); for `POST {deviceBound.path}/register` or `/refresh`, true, and `onAnswer` (or
 * `onError`, for an error that is not sessionkit's) is called with the answer to send.
 */
export function deviceBoundStep<A, B, C>(
  sessions: Sessions<any>,
  req: EndpointRequest,
  onAnswer: Then<DeviceBoundAnswer, A, B, C, unknown>,
  onError: Then<unknown, A, B, C, unknown>,
  a: A,
  b: B,
  c: C,
): boolean {
  const dbsc = deviceBoundRequest(sessions, req);
  if (dbsc === null) return false;
  settle(dbsc, onAnswer, onError, a, b, c);
  return true;
}

/**
 * Loads the request's session: `onSession` before returning when no store I/O is needed (no
 * cookie, a cookie store, a synchronous store), after the load otherwise; `onError` when the load
 * fails (thrown or rejected). Answers what the callback returned when it was called at once.
 */
export function loadStep<Data extends Record<string, any>, A, B, C, R>(
  sessions: Sessions<Data>,
  req: LoadRequest,
  onSession: Then<Session<Data>, A, B, C, R>,
  onError: Then<unknown, A, B, C, R>,
  a: A,
  b: B,
  c: C,
): R | undefined {
  let loaded: Session<Data> | Promise<Session<Data>>;
  try {
    loaded = loadForRequest(sessions, req);
  } catch (err) {
    return onError(err, a, b, c);
  }
  return settle(loaded, onSession, onError, a, b, c);
}

/** The request's session as a promise (h3's `useSession`, which memoises it): a failed load rejects. */
export function loadPromise<Data extends Record<string, any>>(sessions: Sessions<Data>, req: LoadRequest): Promise<Session<Data>> {
  try {
    const loaded = loadForRequest(sessions, req);
    return loaded instanceof Promise ? loaded : Promise.resolve(loaded);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Commits the session for a response of `status`: `onDone` with the commit (the headers to put on
 * the response) before returning when nothing needs a store write, after the write otherwise;
 * `onError` when the commit fails. Answers what the callback returned when it was called at once.
 */
export function commitStep<A, B, C, R>(
  sessions: Sessions<any>,
  session: Session<any>,
  status: number,
  onDone: Then<CommitResponse, A, B, C, R>,
  onError: Then<unknown, A, B, C, R>,
  a: A,
  b: B,
  c: C,
): R | undefined {
  let result: CommitResponse | Promise<CommitResponse>;
  try {
    result = sessions.commitResponse(session, { status });
  } catch (err) {
    return onError(err, a, b, c);
  }
  return settle(result, onDone, onError, a, b, c);
}

/**
 * What a promise-based adapter supplies to `runSequence`: how its framework's request is read and
 * its answer made. `a` and `b` are the request's context as the framework hands it over (e.g.
 * Hono's `c` and `next`); the translation itself is made once per middleware.
 */
export interface Translation<Data extends Record<string, any>, A, B, Out> {
  /** The request `loadForRequest` reads. */
  request(a: A, b: B): LoadRequest;
  /** The request `deviceBoundRequest` reads (its method and URL). */
  endpointRequest(a: A, b: B): EndpointRequest;
  /** The answer to a device-bound endpoint. */
  deviceBound(answer: DeviceBoundAnswer, a: A, b: B): Out;
  /** Hands the session to the application and runs it: its answer. */
  run(session: Session<Data>, a: A, b: B): Out | Promise<Out>;
  /** The status of the application's answer. */
  status(out: Out, a: A, b: B): number;
  /** The application's answer with the commit's headers. */
  commit(out: Out, result: CommitResponse, a: A, b: B): Out | Promise<Out>;
  /** The answer to a failed load (a sessionkit error's 400 or 503; anything else rethrown). */
  loadFailed(err: unknown, a: A, b: B): Out | Promise<Out>;
  /** The answer to a failed commit, in place of `out`, the application's answer (dropped). */
  commitFailed(err: unknown, out: Out, a: A, b: B): Out | Promise<Out>;
}

/**
 * The whole sequence for a promise-based framework: a device-bound endpoint answered, else the
 * session loaded (no promise turn when no store I/O is needed), the application run, and its
 * answer committed (`commitSequence`).
 */
export async function runSequence<Data extends Record<string, any>, A, B, Out>(
  sessions: Sessions<Data>,
  t: Translation<Data, A, B, Out>,
  a: A,
  b: B,
): Promise<Out> {
  const dbsc = deviceBoundRequest(sessions, t.endpointRequest(a, b));
  if (dbsc !== null) return t.deviceBound(await dbsc, a, b);
  let session: Session<Data>;
  try {
    const loaded = loadForRequest(sessions, t.request(a, b));
    session = loaded instanceof Promise ? await loaded : loaded;
  } catch (err) {
    return t.loadFailed(err, a, b);
  }
  return commitSequence(sessions, session, await t.run(session, a, b), t, a, b);
}

/** The second half of `runSequence`: commits the session for `out`, the application's answer, and answers `out` with the commit's headers. */
export async function commitSequence<A, B, Out>(
  sessions: Sessions<any>,
  session: Session<any>,
  out: Out,
  t: Pick<Translation<any, A, B, Out>, 'status' | 'commit' | 'commitFailed'>,
  a: A,
  b: B,
): Promise<Out> {
  let result: CommitResponse | Promise<CommitResponse>;
  try {
    result = sessions.commitResponse(session, { status: t.status(out, a, b) });
    if (result instanceof Promise) result = await result;
  } catch (err) {
    return t.commitFailed(err, out, a, b);
  }
  return t.commit(out, result, a, b);
}
