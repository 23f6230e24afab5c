import type { Session } from '../core/session.js';
import type { SessionStore } from '../core/store.js';

/*
 * The behaviour table's routes, apart from the suite itself (no node:test here), so that an app
 * under test that runs in another process (a built Next.js or SvelteKit app) serves the same ones.
 */

/** What the suite's routes receive: the loaded session and the request line. */
export interface RouteContext {
  session: Session<Record<string, any>>;
  method: string;
  path: string;
  query: URLSearchParams;
  store: SessionStore;
}

/** What a route answers; the adapter under test turns it into its framework's response. */
export interface RouteResult {
  status: number;
  body: string;
  headers?: Record<string, string>;
  /** Extra Set-Cookie values the application sets itself. */
  cookies?: string[];
  /** Send the body in two writes (streaming) where the framework allows it. */
  stream?: boolean;
}

export type Routes = (ctx: Omit<RouteContext, 'store'>) => Promise<RouteResult>;

export function routesFor(store: SessionStore): Routes {
  return async ({ session, path, query }): Promise<RouteResult> => {
    switch (path) {
      case '/untouched':
        return { status: 200, body: 'untouched' };
      case '/read':
        return { status: 200, body: `count=${session.get('count', 0)}` };
      case '/read-twice':
        session.get('a');
        session.get('b');
        return { status: 200, body: 'read' };
      case '/incr': {
        const count = session.get('count', 0) + 1;
        session.set('count', count);
        return { status: 200, body: `count=${count}` };
      }
      case '/set':
        for (const [k, v] of query) session.set(k, v);
        return { status: 200, body: 'set' };
      case '/flush':
        await session.flush();
        return { status: 200, body: 'flushed' };
      case '/flush-clear':
        await session.flush({ clearSiteData: true });
        return { status: 200, body: 'flushed' };
      case '/own-cache':
        session.set('x', 2);
        return { status: 200, body: 'ok', headers: { 'Cache-Control': 'no-cache' } };
      case '/cycle':
        await session.cycleKey();
        return { status: 200, body: 'cycled' };
      case '/login':
        await session.login(query.get('user') ?? 'alice');
        return { status: 200, body: `user=${session.userId}` };
      case '/id':
        session.set('seen', true);
        return { status: 200, body: `id=${session.id}` };
      case '/browser-close':
        session.setExpiry(0);
        session.set('x', 1);
        return { status: 200, body: 'ok' };
      case '/fail':
        session.set('hello', 'world');
        return { status: Number(query.get('status') ?? 500), body: 'failed' };
      case '/redirect':
        session.set('flash', 'moved');
        return { status: 303, body: '', headers: { Location: '/read' } };
      case '/stream':
        session.set('streamed', true);
        return { status: 200, body: 'chunk-one/chunk-two', stream: true };
      case '/own-headers':
        session.set('x', 1);
        return { status: 200, body: 'ok', headers: { Vary: 'Accept-Encoding' }, cookies: ['theme=dark; Path=/'] };
      case '/deleted-elsewhere':
        await store.delete(session.key!);
        session.set('after', 'logout');
        return { status: 200, body: 'should not be seen' };
      default:
        return { status: 404, body: 'not found' };
    }
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
