import type { AddressInfo } from 'node:net';
import express from 'express';
import { describeAdapter } from '../testing/adapter-suite.js';
import { sessionErrorHandler, sessionMiddleware } from './express.js';

describeAdapter('Express 5 (sessionkit/express)', {
  async start(sessions, routes) {
    const app = express();
    app.use(sessionMiddleware(sessions));
    app.use(async (req, res) => {
      const url = new URL(req.originalUrl, 'http://localhost');
      const r = await routes({ session: req.session, method: req.method, path: url.pathname, query: url.searchParams });
      res.status(r.status);
      for (const [k, v] of Object.entries(r.headers ?? {})) res.set(k, v);
      if (r.cookies) res.append('Set-Cookie', r.cookies);
      res.type('text/plain');
      if (r.stream) {
        const [a, b] = r.body.split('/');
        res.write(`${a}/`);
        setTimeout(() => res.end(b), 5);
      } else res.send(r.body);
    });
    app.use(sessionErrorHandler());
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});
