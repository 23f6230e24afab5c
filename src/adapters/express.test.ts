import { createServer } from 'node:http';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import express from 'express';
import { describeAdapter } from '../testing/adapter-suite.js';
import { createSessions, MemoryStore, Session, SessionDataError, verifyCsrfToken } from '../index.js';
import { sessionErrorHandler, sessionMiddleware } from './express.js';
import { listen } from '../../test/support/listen.js';

/** Express's app on a free port of 127.0.0.1. */
const serve = (app: express.Express) => listen(createServer(app));

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
      // Express 4 does not catch a rejected handler: pass it on as Express 4 apps do
      app.use((req, res, next) => void handle(req, res).catch(next));
      const handle = async (req: express.Request, res: express.Response) => {
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
      };
      app.use(sessionErrorHandler());
      return serve(app);
    },
  });
}

describe('Express specifics', () => {
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

describe('req.session speaks express-session (passport, connect-flash) on the same Session', () => {
  const pair = (r: Response) => r.headers.getSetCookie()[0]?.split(';')[0];

  /** An app whose routes run `fn(req.session, req)` and answer what it returns, as JSON. */
  async function withApp(
    routes: Record<string, (session: any, req: express.Request) => unknown>,
    run: (call: (path: string, cookie?: string) => Promise<{ body: any; cookie: string | undefined; res: Response }>) => Promise<void>,
    store = new MemoryStore(),
  ): Promise<void> {
    const sessions = createSessions({ store });
    const app = express();
    app.use(sessionMiddleware(sessions));
    for (const [path, fn] of Object.entries(routes)) {
      app.get(path, async (req, res, next) => {
        try {
          res.json((await fn(req.session, req)) ?? null);
        } catch (err) {
          next(err);
        }
      });
    }
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: (err as Error).message });
    });
    const { url, close } = await serve(app);
    try {
      await run(async (path, cookie) => {
        const res = await fetch(`${url}${path}`, { headers: cookie ? { cookie } : {} });
        return { body: await res.json(), cookie: pair(res), res };
      });
    } finally {
      await close();
    }
  }

  it('top-level names read and write session data as properties, the same data the Session API sees', async () => {
    await withApp(
      {
        '/write': (s) => {
          s.passport = { user: 7 };
          s.passport.user = 8; // nested change, as passport makes it
          s.cart = ['apple'];
          s.gone = 'soon';
          delete s.gone;
          s.nothing = undefined;
          return { viaGet: s.get('passport'), has: 'cart' in s, keys: Object.keys(s), instance: s instanceof Session };
        },
        '/read': (s) => ({ passport: s.passport, cart: s.get('cart'), keys: Object.keys(s), spread: { ...s } }),
        '/set-via-api': (s) => {
          s.set('returnTo', '/account');
          return { returnTo: s.returnTo };
        },
      },
      async (call) => {
        const w = await call('/write');
        assert.deepEqual(w.body, { viaGet: { user: 8 }, has: true, keys: ['passport', 'cart'], instance: true });
        assert.ok(w.cookie);
        const r = await call('/read', w.cookie);
        assert.deepEqual(r.body, {
          passport: { user: 8 },
          cart: ['apple'],
          keys: ['passport', 'cart'],
          spread: { passport: { user: 8 }, cart: ['apple'] },
        });
        assert.deepEqual((await call('/set-via-api', w.cookie)).body, { returnTo: '/account' });
      },
    );
  });

  it('regenerate: the old record gone, no data, a new key; passport keepSessionInfo merges the old object back', async () => {
    await withApp(
      {
        '/login': (s) => {
          s.cart = ['pear'];
          return null;
        },
        '/regenerate': async (s, req) => {
          const before = req.session;
          await new Promise<void>((resolve, reject) => s.regenerate((err?: unknown) => (err ? reject(err) : resolve())));
          const after = req.session as any;
          const emptied = Object.keys(after).length;
          // what passport's keepSessionInfo does: merge(req.session, prevSession)
          for (const k in before) after[k] = (before as any)[k];
          after.passport = { user: 'alice' };
          return { emptied, replaced: before !== after, cart: after.cart, oldKeyKept: after.key };
        },
        '/me': (s) => ({ passport: s.passport ?? null, cart: s.cart ?? null }),
      },
      async (call) => {
        const { cookie } = await call('/login');
        const r = await call('/regenerate', cookie);
        assert.deepEqual(r.body, { emptied: 0, replaced: true, cart: ['pear'], oldKeyKept: null });
        assert.ok(r.cookie && r.cookie !== cookie, 'a new key');
        assert.deepEqual((await call('/me', cookie)).body, { passport: null, cart: null }, 'the old key no longer loads');
        assert.deepEqual((await call('/me', r.cookie)).body, { passport: { user: 'alice' }, cart: ['pear'] });
      },
    );
  });

  it('destroy is flush, save and reload call back, touch and cookie set the expiry; without a callback they return a Promise', async () => {
    const store = new MemoryStore();
    await withApp(
      {
        '/start': (s) => {
          s.n = 1;
          s.cookie.maxAge = 3_600_000;
          return { maxAge: Math.round(s.cookie.maxAge / 1000), expires: s.cookie.expires instanceof Date };
        },
        '/reload': async (s) => {
          s.n = 99; // not saved: reload reads the stored data back
          await new Promise<void>((resolve, reject) => s.reload((err?: unknown) => (err ? reject(err) : resolve())));
          const saved = await new Promise<unknown>((resolve) => s.save((err?: unknown) => resolve(err ?? 'saved')));
          return { n: s.n, saved, touched: s.touch() === s };
        },
        '/browser': (s) => {
          s.cookie.expires = false;
          return { maxAge: s.cookie.maxAge, browserClose: s.expireAtBrowserClose };
        },
        '/destroy': async (s) => {
          await s.destroy();
          return { empty: s.isEmpty };
        },
        '/n': (s) => ({ n: s.n ?? null }),
      },
      async (call) => {
        const start = await call('/start');
        assert.deepEqual(start.body, { maxAge: 3600, expires: true });
        assert.match(start.res.headers.getSetCookie()[0]!, /Max-Age=3600;/);
        const reload = await call('/reload', start.cookie);
        assert.deepEqual(reload.body, { n: 1, saved: 'saved', touched: true });
        assert.match(reload.res.headers.getSetCookie()[0] ?? '', /Max-Age=3600;/, 'touch() re-sends the cookie with a renewed expiry');
        const browser = await call('/browser', start.cookie);
        assert.deepEqual(browser.body, { maxAge: null, browserClose: true });
        assert.doesNotMatch(browser.res.headers.getSetCookie()[0]!, /Max-Age/);
        const destroyed = await call('/destroy', start.cookie);
        assert.deepEqual(destroyed.body, { empty: true });
        assert.match(destroyed.res.headers.getSetCookie()[0]!, /Max-Age=0/);
        assert.deepEqual((await call('/n', start.cookie)).body, { n: null });
      },
      store,
    );
  });

  it("connect-flash's bag under the data key flash, and the Session's flash(), on one name", async () => {
    // what connect-flash's req.flash does with req.session.flash, verbatim
    function connectFlash(this: { session: any }, type?: string, msg?: string): unknown {
      const msgs = (this.session.flash = this.session.flash || {});
      if (type && msg) return (msgs[type] = msgs[type] || []).push(msg);
      if (type) {
        const arr = msgs[type];
        delete msgs[type];
        return arr || [];
      }
      this.session.flash = {};
      return msgs;
    }
    await withApp(
      {
        '/add': (s, req) => {
          connectFlash.call(req, 'info', 'one');
          connectFlash.call(req, 'info', 'two');
          connectFlash.call(req, 'error', 'bad');
          s.flash('notice', 'from sessionkit');
          return { bag: s.get('flash') };
        },
        '/take': (s, req) => ({ info: connectFlash.call(req, 'info'), notice: s.get('notice') ?? null }),
        '/all': (_s, req) => ({ all: { ...(connectFlash.call(req) as object) } }),
        '/again': (s) => ({ bag: s.get('flash'), notice: s.get('notice') ?? null }),
      },
      async (call) => {
        const anonymous = await call('/take');
        assert.deepEqual(anonymous.body, { info: [], notice: null });
        assert.equal(anonymous.cookie, undefined, 'reading no messages stores nothing and sets no cookie');
        const add = await call('/add');
        assert.deepEqual(add.body, { bag: { info: ['one', 'two'], error: ['bad'] } });
        const take = await call('/take', add.cookie);
        assert.deepEqual(take.body, { info: ['one', 'two'], notice: 'from sessionkit' });
        assert.deepEqual((await call('/all', add.cookie)).body, { all: { error: ['bad'] } });
        assert.deepEqual((await call('/again', add.cookie)).body, { bag: {}, notice: null });
      },
    );
  });

  it('Session API names keep their meaning and cannot be overwritten; reserved keys are not properties', async () => {
    await withApp(
      {
        '/try': async (s) => {
          const refused: string[] = [];
          for (const name of ['get', 'userId', 'id', '_session_meta', '_csrftoken']) {
            try {
              s[name] = 'x';
            } catch (err) {
              if (err instanceof SessionDataError && err.message.startsWith('sessionkit:')) refused.push(name);
            }
          }
          await s.login('42');
          s.modified = true;
          return {
            refused,
            userId: s.userId,
            metaHidden: s._session_meta === undefined && !Object.keys(s).includes('_session_meta'),
            typeofGet: typeof s.get,
            csrf: verifyCsrfToken(s, s.csrfToken()),
          };
        },
      },
      async (call) => {
        assert.deepEqual((await call('/try')).body, {
          refused: ['get', 'userId', 'id', '_session_meta', '_csrftoken'],
          userId: '42',
          metaHidden: true,
          typeofGet: 'function',
          csrf: true,
        });
      },
    );
  });

  it("adds nothing to Express's shared request and response prototypes (only to the app's own), also with a mounted sub-app", async () => {
    const shared = (make: typeof express) => [
      make.request,
      make.response,
      Object.getPrototypeOf(make.request) as object,
      Object.getPrototypeOf(make.response) as object,
    ];
    const snapshot = (objects: object[]) => objects.map((o) => Object.entries(Object.getOwnPropertyDescriptors(o)));
    for (const make of [express, express4]) {
      const before = snapshot(shared(make));
      const methods = shared(make).map((o) => [(o as any).end, (o as any).write, (o as any).writeHead]);
      const sessions = createSessions({ store: new MemoryStore() });
      const app = make();
      app.use(sessionMiddleware(sessions));
      app.get('/', (req, res) => {
        req.session.set('n', 1);
        res.send('ok');
      });
      // a sub-app with its own session middleware, answered by the parent after the sub-app calls next
      const parent = make();
      const sub = make();
      sub.use(sessionMiddleware(sessions));
      sub.use((req, _res, next) => {
        req.session.set('from', 'sub');
        next();
      });
      parent.use('/sub', sub);
      parent.use((req, res) => res.send(`session=${(req.session as any)?.get('from')}`));
      const a = await serve(app);
      const b = await serve(parent);
      try {
        const r = await fetch(a.url);
        assert.match(r.headers.getSetCookie()[0] ?? '', /^sessionid=/);
        const s = await fetch(`${b.url}/sub/x`);
        assert.equal(await s.text(), 'session=sub');
        assert.match(s.headers.getSetCookie()[0] ?? '', /^sessionid=/, 'committed although the parent answered');
      } finally {
        await a.close();
        await b.close();
      }
      assert.deepEqual(snapshot(shared(make)), before);
      assert.deepEqual(
        shared(make).map((o) => [(o as any).end, (o as any).write, (o as any).writeHead]),
        methods,
      );
      assert.equal(Object.hasOwn(make.request, 'session'), false);
    }
  });
});
