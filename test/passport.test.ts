/**
 * A real express-session + connect-redis + passport-local + connect-flash site on a real
 * redis-server, switched to sessionkit with fromExpressSession: the same site code runs on both,
 * for passport 0.6 and 0.7. Visitors signed in before the switch stay signed in, new logins and
 * logouts work (and a logout sticks), flash messages work, a page's parallel requests with the old
 * cookie share one migrated session, and a "remember me" expiry survives.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import expressSession from 'express-session';
import { createClient } from 'redis';
import { getSession, sessionMiddleware } from '../src/adapters/express.js';
import { fromExpressSession } from '../src/express-session/index.js';
import { createSessions, RedisStore, type Sessions } from '../src/index.js';
import { startRedis, stopAll } from './support/redis.js';
import { listen as listenOn } from './support/listen.js';

const require = createRequire(import.meta.url);
const flash = require('connect-flash') as () => express.RequestHandler;
const { Strategy: LocalStrategy } = require('passport-local') as { Strategy: new (verify: AnyFn) => unknown };
type AnyFn = (...args: any[]) => any;

const OLD_SECRET = 'the express-session secret of the site, long enough';
const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000;
const USERS = [
  { id: 1, name: 'alice', password: 'wonderland' },
  { id: 2, name: 'bob', password: 'builder' },
  { id: 3, name: 'carol', password: 'singer' },
  { id: 4, name: 'dave', password: 'diver' },
];

/**
 * The site, as its authors wrote it for express-session: passport-local with "remember me"
 * (`req.session.cookie.maxAge`), connect-flash messages, `req.logout`. Only the session
 * middleware differs between the old site and the switched one.
 */
function site(
  passportModule: { Passport: new () => any },
  sessionLayer: express.RequestHandler,
  makeExpress: typeof express,
): express.Express {
  const passport = new passportModule.Passport();
  passport.use(
    new LocalStrategy((username: string, password: string, done: AnyFn) => {
      const user = USERS.find((u) => u.name === username);
      if (!user || user.password !== password) return done(null, false, { message: 'Wrong name or password' });
      return done(null, user);
    }),
  );
  passport.serializeUser((user: { id: number }, done: AnyFn) => done(null, user.id));
  passport.deserializeUser((id: number, done: AnyFn) => done(null, USERS.find((u) => u.id === id) ?? false));

  const app = makeExpress();
  app.use(makeExpress.urlencoded({ extended: false }));
  app.use(sessionLayer);
  app.use(flash());
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/', (req, res) => {
    const r = req as any;
    res.json({ user: r.user?.name ?? null, info: r.flash('info'), error: r.flash('error') });
  });
  app.post('/login', passport.authenticate('local', { failureRedirect: '/', failureFlash: true }), (req, res) => {
    const r = req as any;
    if (req.body.remember === 'yes') r.session.cookie.maxAge = THIRTY_DAYS_MS;
    r.flash('info', `Welcome, ${r.user.name}`);
    res.redirect('/');
  });
  app.post('/logout', (req, res, next) => {
    (req as any).logout((err: unknown) => (err ? next(err) : res.redirect('/')));
  });
  return app;
}

/** Express's app on a free port of 127.0.0.1. */
const listen = (app: express.Express) => listenOn(createServer(app));

const cookieNamed = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
const pair = (setCookie: string | undefined) => setCookie?.split(';')[0];
const maxAgeOf = (setCookie: string | undefined) => {
  const m = /;\s*Max-Age=(\d+)/i.exec(setCookie ?? '');
  return m ? Number(m[1]) : null;
};

const express4 = require('express4') as typeof express;

for (const [version, passportModule, framework, makeExpress] of [
  ['0.6', require('passport06'), 'Express 5', express],
  ['0.7', require('passport'), 'Express 5', express],
  ['0.7', require('passport'), 'Express 4', express4],
] as const) {
  describe(`passport ${version} + connect-flash on ${framework}: an express-session site switched to sessionkit/express (real Redis)`, () => {
    let client!: ReturnType<typeof createClient>;
    let oldStore!: ConnectRedisStore;
    let oldSite!: { url: string; close(): Promise<void> };
    let newSite!: { url: string; close(): Promise<void> };
    let sessions!: Sessions<Record<string, any>>;

    before(async () => {
      assert.equal(require(`${version === '0.6' ? 'passport06' : 'passport'}/package.json`).version, `${version}.0`);
      const redis = await startRedis();
      client = createClient({ url: redis.url });
      await client.connect();
      oldStore = new ConnectRedisStore({ client, prefix: 'sess:' });
      oldSite = await listen(
        site(passportModule, expressSession({ secret: OLD_SECRET, store: oldStore, resave: false, saveUninitialized: false }), makeExpress),
      );
      sessions = createSessions({
        store: new RedisStore({ client, prefix: 'sk:' }),
        migrate: fromExpressSession({ secret: OLD_SECRET, store: oldStore }),
      });
      const app = site(passportModule, sessionMiddleware(sessions), makeExpress);
      // one route the old site did not have: what sessionkit itself knows of the visitor
      app.get('/sessionkit', (req, res) => {
        const s = getSession(req);
        res.json({ userId: s.userId, id: s.id, browserClose: s.expireAtBrowserClose });
      });
      newSite = await listen(app);
    });

    after(async () => {
      await newSite?.close();
      await oldSite?.close();
      await client?.quit();
      await stopAll();
    });

    /** Signs in on the old (express-session) site; the flash message it sets is left unread. */
    async function signInOnOldSite(name: string, remember: boolean): Promise<{ cookie: string; setCookie: string; sid: string }> {
      const user = USERS.find((u) => u.name === name)!;
      const body = new URLSearchParams({ username: name, password: user.password, ...(remember ? { remember: 'yes' } : {}) });
      const res = await fetch(`${oldSite.url}/login`, { method: 'POST', body, redirect: 'manual' });
      assert.equal(res.status, 302);
      const setCookie = cookieNamed(res, 'connect.sid')!;
      assert.ok(setCookie, 'express-session set its cookie');
      const cookie = pair(setCookie)!;
      const sid = decodeURIComponent(cookie.slice('connect.sid='.length)).slice(2).split('.')[0]!;
      const stored = JSON.parse((await client.get(`sess:${sid}`))!);
      assert.equal(stored.passport.user, user.id, 'passport keeps the user in the express-session record');
      return { cookie, setCookie, sid };
    }

    const get = (site: { url: string }, path: string, cookie?: string) =>
      fetch(`${site.url}${path}`, { headers: cookie ? { cookie } : {}, redirect: 'manual' });

    it('a visitor signed in before the switch is still req.user, bound to the user, with the old flash and remember-me expiry', async () => {
      const alice = await signInOnOldSite('alice', true);
      assert.match(alice.setCookie, /Expires=/, 'the old site sent a 30-day cookie');

      const moved = await get(newSite, '/', alice.cookie);
      assert.equal(moved.status, 200);
      assert.deepEqual(await moved.json(), { user: 'alice', info: ['Welcome, alice'], error: [] });
      const sessionid = cookieNamed(moved, 'sessionid');
      assert.match(sessionid ?? '', /^sessionid=[a-z0-9]{32};/);
      const maxAge = maxAgeOf(sessionid);
      assert.ok(maxAge !== null && Math.abs(maxAge - THIRTY_DAYS_MS / 1000) < 120, `remember me kept: Max-Age ${maxAge}`);
      assert.match(cookieNamed(moved, 'connect.sid') ?? '', /^connect\.sid=; Max-Age=0/, 'the old cookie expired');
      assert.equal(await client.exists(`sess:${alice.sid}`), 0, 'the old record is gone');

      const cookie = pair(sessionid)!;
      const again = await get(newSite, '/', cookie);
      assert.deepEqual(await again.json(), { user: 'alice', info: [], error: [] }, 'the flash message was shown once');
      const known = (await (await get(newSite, '/sessionkit', cookie)).json()) as { userId: string; id: string };
      assert.equal(known.userId, '1', 'bound to the passport user');
      const listed = await sessions.listUserSessions('1');
      assert.deepEqual(
        listed.map((s) => s.id),
        [known.id],
        'listUserSessions sees the migrated visitor',
      );
    });

    it('without "remember me" the migrated cookie is a browser-session cookie, as the old one was', async () => {
      const bob = await signInOnOldSite('bob', false);
      assert.doesNotMatch(bob.setCookie, /Expires=/);
      const moved = await get(newSite, '/', bob.cookie);
      assert.equal(((await moved.json()) as { user: string }).user, 'bob');
      const sessionid = cookieNamed(moved, 'sessionid')!;
      assert.doesNotMatch(sessionid, /Max-Age|Expires/i);
      const known = (await (await get(newSite, '/sessionkit', pair(sessionid))).json()) as { browserClose: boolean; userId: string };
      assert.deepEqual([known.browserClose, known.userId], [true, '2']);
    });

    it("a page's parallel requests with the old cookie all get the one migrated session, never a fresh one", async () => {
      const dave = await signInOnOldSite('dave', false);
      // three at once, then three more after the first answers (the old record is gone by then)
      const first = await Promise.all([1, 2, 3].map(() => get(newSite, '/sessionkit', dave.cookie)));
      await new Promise((r) => setTimeout(r, 50));
      const later = await Promise.all([1, 2, 3].map(() => get(newSite, '/sessionkit', dave.cookie)));
      const all = [...first, ...later];
      const bodies = (await Promise.all(all.map((r) => r.json()))) as { userId: string | null; id: string }[];
      assert.deepEqual(
        bodies.map((b) => b.userId),
        ['4', '4', '4', '4', '4', '4'],
      );
      assert.equal(new Set(bodies.map((b) => b.id)).size, 1, 'one session');
      const cookies = new Set(all.map((r) => pair(cookieNamed(r, 'sessionid'))));
      assert.equal(cookies.size, 1, 'every response carries the same sessionkit cookie');
      assert.equal((await sessions.listUserSessions('4')).length, 1);
      const page = await get(newSite, '/', [...cookies][0]);
      assert.equal(((await page.json()) as { user: string }).user, 'dave');
    });

    it('a new login, a failed one with its flash message, and a logout that sticks, on the switched site', async () => {
      const wrong = await fetch(`${newSite.url}/login`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'alice', password: 'nope' }),
        redirect: 'manual',
      });
      assert.equal(wrong.status, 302);
      const failedCookie = pair(cookieNamed(wrong, 'sessionid'));
      assert.ok(failedCookie, 'the failure message is kept in a session');
      assert.deepEqual(await (await get(newSite, '/', failedCookie)).json(), { user: null, info: [], error: ['Wrong name or password'] });

      const login = await fetch(`${newSite.url}/login`, {
        method: 'POST',
        headers: { cookie: failedCookie! },
        body: new URLSearchParams({ username: 'alice', password: 'wonderland', remember: 'yes' }),
        redirect: 'manual',
      });
      assert.equal(login.status, 302, 'no 500: req.session.regenerate and save exist');
      const sessionid = cookieNamed(login, 'sessionid');
      const cookie = pair(sessionid)!;
      assert.notEqual(cookie, failedCookie, 'a new key at login (regenerate)');
      const maxAge = maxAgeOf(sessionid);
      assert.ok(maxAge !== null && Math.abs(maxAge - THIRTY_DAYS_MS / 1000) < 120, 'req.session.cookie.maxAge = 30 days');
      assert.deepEqual(await (await get(newSite, '/', cookie)).json(), { user: 'alice', info: ['Welcome, alice'], error: [] });
      assert.deepEqual(await (await get(newSite, '/', failedCookie)).json(), { user: null, info: [], error: [] }, 'the old key is gone');

      const { userId } = (await (await get(newSite, '/sessionkit', cookie)).json()) as { userId: string | null };
      assert.equal(userId, null, "passport's own login leaves sessionkit's userId to session.login (the docs show both)");

      const logout = await fetch(`${newSite.url}/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
      assert.equal(logout.status, 302);
      assert.match(
        cookieNamed(logout, 'sessionid') ?? '',
        /^sessionid=; Max-Age=0/,
        'regenerate left an empty session: the cookie expired',
      );
      assert.deepEqual(await (await get(newSite, '/', cookie)).json(), { user: null, info: [], error: [] });
    });

    it('a logout as the first request after the switch stays in force: the old cookie no longer migrates', async () => {
      const carol = await signInOnOldSite('carol', true);
      const logout = await fetch(`${newSite.url}/logout`, { method: 'POST', headers: { cookie: carol.cookie }, redirect: 'manual' });
      assert.equal(logout.status, 302);
      assert.equal(await client.exists(`sess:${carol.sid}`), 0, 'the old record is destroyed by the logout');
      const back = await get(newSite, '/', carol.cookie);
      assert.deepEqual(await back.json(), { user: null, info: [], error: [] });
      assert.deepEqual(await sessions.listUserSessions('3'), []);
      // still out once the moment for a page's parallel requests has passed
      const later = await get(newSite, '/sessionkit', carol.cookie);
      assert.equal(((await later.json()) as { userId: string | null }).userId, null);
    });

    it('a logout with the new cookie after the migration stays in force for the old cookie too', async () => {
      const alice = await signInOnOldSite('alice', false);
      const moved = await get(newSite, '/', alice.cookie);
      const cookie = pair(cookieNamed(moved, 'sessionid'))!;
      await fetch(`${newSite.url}/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
      // a tab that still sends the old cookie (within the parallel-request moment, and after)
      assert.deepEqual(await (await get(newSite, '/', alice.cookie)).json(), { user: null, info: [], error: [] });
      assert.deepEqual(await (await get(newSite, '/', cookie)).json(), { user: null, info: [], error: [] });
    });
  });
}
