import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeAdapter } from '../testing/adapter-suite.js';
import { withSession } from './node.js';

describeAdapter('node:http (sessionkit/node)', {
  async start(sessions, routes) {
    const server = createServer(
      withSession(sessions, async (req, res, session) => {
        const url = new URL(req.url!, 'http://localhost');
        const r = await routes({ session, method: req.method!, path: url.pathname, query: url.searchParams });
        res.statusCode = r.status;
        for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
        if (r.cookies) res.setHeader('Set-Cookie', r.cookies);
        res.setHeader('Content-Type', 'text/plain');
        if (r.stream) {
          const [a, b] = r.body.split('/');
          res.write(`${a}/`);
          setTimeout(() => res.end(b), 5);
        } else res.end(r.body);
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});
