import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import Koa2 from 'koa2';
import Koa, { type DefaultState } from 'koa';
import type { Sessions } from '../core/sessions.js';
import { describeAdapter, type Routes } from '../testing/adapter-suite.js';
import { sessionMiddleware, type SessionContext } from './koa.js';

function startWith(KoaClass: typeof Koa) {
  return async (sessions: Sessions<Record<string, any>>, routes: Routes) => {
    const app = new KoaClass<DefaultState, SessionContext>();
    app.silent = true;
    app.use(sessionMiddleware(sessions));
    app.use(async (ctx) => {
      const r = await routes({ session: ctx.session, method: ctx.method, path: ctx.path, query: new URLSearchParams(ctx.querystring) });
      ctx.status = r.status;
      for (const [k, v] of Object.entries(r.headers ?? {})) ctx.set(k, v);
      for (const cookie of r.cookies ?? []) ctx.append('Set-Cookie', cookie);
      ctx.type = 'text/plain';
      if (r.stream) {
        const [a, b] = r.body.split('/');
        const body = new PassThrough();
        body.write(`${a}/`);
        setTimeout(() => body.end(b), 5);
        ctx.body = body;
      } else if (r.status !== 303) ctx.body = r.body;
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  };
}

describeAdapter('Koa 3 (sessionkit/koa)', { start: startWith(Koa) });
describeAdapter('Koa 2 (sessionkit/koa)', { start: startWith(Koa2 as unknown as typeof Koa) });
