import type { SessionsOptions } from '../core/options.js';
import { SessionError, StoreUnavailableError } from '../core/errors.js';
import { makeSessions, type Sessions } from '../core/sessions.js';
import type { SessionData } from '../core/codec.js';
import type { SessionStore, StoredSession, StoreStats, UpdateResult } from '../core/store.js';
import { routesFor, type RouteResult, type Routes } from './routes.js';

export type { RouteResult, Routes } from './routes.js';

/** A SessionStore whose every call goes to the behaviour table's harness in the test process. */
class RemoteStore implements SessionStore {
  readonly #url: string;
  constructor(url: string) {
    this.#url = url;
  }
  async #call<T>(method: string, args: unknown[]): Promise<T> {
    const res = await fetch(`${this.#url}/store/${method}`, { method: 'POST', body: JSON.stringify(args) });
    const answer = (await res.json()) as { result?: T; error?: string; message?: string };
    if (answer.error === 'STORE_UNAVAILABLE') throw new StoreUnavailableError(answer.message ?? 'down');
    if (answer.error !== undefined) throw new SessionError(answer.error, answer.message ?? '');
    return answer.result as T;
  }
  load(key: string, now?: number) {
    return this.#call<StoredSession | null>('load', [key, now]);
  }
  create(key: string, data: SessionData, expiresAt: number, now?: number) {
    return this.#call<number | null>('create', [key, data, expiresAt, now]);
  }
  update(key: string, data: SessionData, expiresAt: number, expectedVersion: number, now?: number) {
    return this.#call<UpdateResult>('update', [key, data, expiresAt, expectedVersion, now]);
  }
  delete(key: string) {
    return this.#call<void>('delete', [key]);
  }
  exists(key: string) {
    return this.#call<boolean>('exists', [key]);
  }
  clearExpired(now?: number) {
    return this.#call<number>('clearExpired', [now]);
  }
  stats(now?: number) {
    return this.#call<StoreStats>('stats', [now]);
  }
  async close() {}
}

/**
 * The app side of `describeAdapter({ serve })`, for an app under test that runs in another
 * process: `sessions()` answers a Sessions with the current case's options over the suite's
 * store, `routes` are the table's routes, and `respond` turns a route's result into a Response.
 * Web-standard only, so it runs in any runtime (Node, an edge sandbox).
 */
export function remoteSuite(harnessUrl: string): {
  sessions(): Promise<Sessions<Record<string, any>>>;
  routes: Routes;
  respond(result: RouteResult): Response;
} {
  const store = new RemoteStore(harnessUrl);
  let cached: { id: number; sessions: Sessions<Record<string, any>> } | null = null;
  return {
    async sessions() {
      const config = (await (await fetch(`${harnessUrl}/config`)).json()) as { id: number; options: SessionsOptions<unknown> };
      if (cached?.id !== config.id) {
        // the app's log lines go to the test process, where the table checks them
        const send = (message: string) => void fetch(`${harnessUrl}/log`, { method: 'POST', body: message }).catch(() => {});
        const logger = { warn: send, error: send };
        cached = { id: config.id, sessions: makeSessions({ ...config.options, store, logger }, () => store) };
      }
      return cached.sessions;
    },
    routes: routesFor(store),
    respond,
  };
}

/** The web Response for a route's result (streamed in two chunks when asked). */
export function respond(r: RouteResult): Response {
  const headers = new Headers(r.headers);
  for (const cookie of r.cookies ?? []) headers.append('Set-Cookie', cookie);
  if (r.status !== 303) headers.set('Content-Type', 'text/plain');
  if (r.stream) {
    const [a, b] = r.body.split('/');
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(`${a}/`));
        await new Promise((resolve) => setTimeout(resolve, 5));
        controller.enqueue(encoder.encode(b!));
        controller.close();
      },
    });
    return new Response(body, { status: r.status, headers });
  }
  return new Response(r.status === 303 ? null : r.body, { status: r.status, headers });
}
