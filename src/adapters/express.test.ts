import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { describeAdapter } from '../testing/adapter-suite.js';
import { createSessions, MemoryStore } from '../index.js';
import { sessionErrorHandler, sessionMiddleware } from './express.js';

// The same behaviour table on Express 4 (installed as the npm alias express4) and 5.
const express4 = createRequire(import.meta.url)('express4') as typeof express;

for (const [name, makeApp] of [
  ['Express 5', express],
  ['Express 4', express4],
] as const) {
  describeAdapter(`${name} (sessionkit/express)`, {
    async start(sessions, routes) {
      const app = makeApp();
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
}

describe('Express specifics', () => {
  async function serve(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  it('commits for a response written inside a mounted sub-app, and behind a middleware that wraps res.end', async () => {
    const sessions = createSessions({ store: new MemoryStore() });
    const app = express();
    const wrapped: string[] = [];
    app.use((_req, res, next) => {
      // what compression-style middleware does: own methods on the response, calling the old ones
      const end = res.end;
      res.end = function (this: unknown, ...args: unknown[]) {
        wrapped.push('end');
        return (end as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof res.end;
      next();
    });
    app.use(sessionMiddleware(sessions));
    const sub = express();
    sub.get('/count', (req, res) => {
      const n = req.session.get('n', 0) + 1;
      req.session.set('n', n);
      res.send(`n=${n}`);
    });
    app.use('/sub', sub);
    const { url, close } = await serve(app);
    try {
      const first = await fetch(`${url}/sub/count`);
      assert.equal(await first.text(), 'n=1');
      const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
      const second = await fetch(`${url}/sub/count`, { headers: { cookie } });
      assert.equal(await second.text(), 'n=2');
      assert.ok(wrapped.length >= 2, 'the wrapping middleware still runs');
    } finally {
      await close();
    }
  });

  it('an app without the session middleware is unaffected by another app that has it', async () => {
    const plain = express();
    plain.get('/', (req, res) => res.send(`session=${String((req as { session?: unknown }).session)}`));
    const { url, close } = await serve(plain);
    try {
      const r = await fetch(url);
      assert.equal(await r.text(), 'session=undefined');
      assert.deepEqual(r.headers.getSetCookie(), []);
      assert.equal(r.headers.get('vary'), null);
    } finally {
      await close();
    }
  });
});
