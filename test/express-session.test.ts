import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import expressSession from 'express-session';
import { createClient } from 'redis';
import { getSession, sessionMiddleware } from '../src/adapters/express.js';
import { fromExpressSession } from '../src/express-session/index.js';
import { ConfigError, createSessions, MemoryStore, RedisStore } from '../src/index.js';
import { startRedis, stopAll } from './support/redis.js';
import { listen as listenOn } from './support/listen.js';

const OLD_SECRET = 'an express-session secret of the old app, 32+ bytes long';
const OLDER_SECRET = 'the secret before that one, still verifying as a fallback';

/** Express's app on a free port of 127.0.0.1. */
const listen = (app: express.Express) => listenOn(createServer(app));

const pair = (setCookie: string | undefined) => setCookie!.split(';')[0]!;
const cookieNamed = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));

describe('moving from express-session + connect-redis (sessionkit/express-session), on a real Redis', () => {
  let client!: ReturnType<typeof createClient>;
  let oldApp!: { url: string; close(): Promise<void> };
  let newApp!: { url: string; close(): Promise<void> };
  let oldStore!: ConnectRedisStore;
  let oldStoreGets = 0;
  let sessions!: ReturnType<typeof createSessions>;

  before(async () => {
    const redis = await startRedis();
    client = createClient({ url: redis.url });
    await client.connect();
    oldStore = new ConnectRedisStore({ client, prefix: 'sess:' });

    // The site as it was: express-session, signing with the first of its secrets.
    const old = express();
    old.use(expressSession({ secret: [OLD_SECRET, OLDER_SECRET], store: oldStore, resave: false, saveUninitialized: false }));
    old.post('/login', (req, res) => {
      const session = req.session as unknown as Record<string, unknown>;
      session.userId = '42';
      session.cart = ['apple'];
      res.send('logged in');
    });
    oldApp = await listen(old);

    // The site on sessionkit: its own store, and the old store to move visitors over from.
    const counting = {
      get: (sid: string, cb: (err: unknown, s?: Record<string, unknown> | null) => void) => {
        oldStoreGets++;
        oldStore.get(sid, cb as never);
      },
      destroy: (sid: string, cb?: (err?: unknown) => void) => oldStore.destroy(sid, cb),
    };
    sessions = createSessions({
      store: new RedisStore({ client, prefix: 'sk:' }),
      migrate: fromExpressSession({ secret: [OLD_SECRET, OLDER_SECRET], store: counting }),
    });
    const app = express();
    app.use(sessionMiddleware(sessions));
    app.get('/me', (req, res) => {
      const keys = [...req.session.keys()].sort().join(',');
      res.send(`user=${req.session.get('userId') ?? 'anonymous'} cart=${(req.session.get('cart') ?? []).join('+')} keys=${keys}`);
    });
    app.post('/save', async (req, res) => {
      req.session.set('saved', true);
      await getSession(req).save();
      res.send('saved');
    });
    app.post('/login', async (req, res) => {
      await req.session.login('7');
      res.send(`user=${req.session.userId} cart=${(req.session.get('cart') ?? []).join('+')}`);
    });
    app.get('/who', (req, res) => {
      const s = req.session;
      res.json({
        userId: s.userId,
        keys: [...s.keys()].sort(),
        expiry: s.expireAtBrowserClose ? null : s.expiryDate.toISOString(),
        cart: s.get('cart') ?? null,
        csrfPlanted: s.has('_csrftoken' as never),
      });
    });
    newApp = await listen(app);
  });

  after(async () => {
    await newApp?.close();
    await oldApp?.close();
    await client?.quit();
    await stopAll();
  });

  async function logInOnOldApp(): Promise<{ cookie: string; sid: string }> {
    const res = await fetch(`${oldApp.url}/login`, { method: 'POST' });
    const cookie = pair(cookieNamed(res, 'connect.sid'));
    const sid = decodeURIComponent(cookie.slice('connect.sid='.length)).slice(2).split('.')[0]!;
    assert.equal(await client.exists(`sess:${sid}`), 1, 'express-session saved the session in Redis');
    return { cookie, sid };
  }

  it('a user logged in on the express-session app stays logged in on the sessionkit app', async () => {
    const { cookie, sid } = await logInOnOldApp();
    const moved = await fetch(`${newApp.url}/me`, { headers: { cookie } });
    assert.equal(
      await moved.text(),
      'user=42 cart=apple keys=_session_expiry,cart,userId',
      "the old data, without express-session's cookie field; its expiry kept (none: a browser-session cookie)",
    );
    const sessionid = cookieNamed(moved, 'sessionid');
    assert.match(sessionid ?? '', /^sessionid=[a-z0-9]{32};/, 'a new sessionkit session under a new key');
    assert.doesNotMatch(sessionid!, /Max-Age|Expires/i, 'the old cookie had no expiry: the new one lasts until the browser closes');
    assert.notEqual(pair(sessionid).slice('sessionid='.length), sid);
    assert.match(cookieNamed(moved, 'connect.sid') ?? '', /^connect\.sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
    assert.equal(await client.exists(`sess:${sid}`), 0, 'the old record is destroyed');
    // The browser now sends the new cookie only.
    const next = await fetch(`${newApp.url}/me`, { headers: { cookie: pair(sessionid) } });
    assert.equal(await next.text(), 'user=42 cart=apple keys=_session_expiry,cart,userId');
    assert.deepEqual(next.headers.getSetCookie(), []);
  });

  it('a login on the very request that moves the old session: the new key is sent, the old record destroyed and its cookie expired', async () => {
    const { cookie, sid } = await logInOnOldApp();
    const res = await fetch(`${newApp.url}/login`, { method: 'POST', headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    assert.equal(await res.text(), 'user=7 cart=apple', 'the moved session was bound to no user: the login keeps its data');
    const sessionid = cookieNamed(res, 'sessionid');
    assert.match(sessionid ?? '', /^sessionid=[a-z0-9]{32};/);
    assert.match(cookieNamed(res, 'connect.sid') ?? '', /^connect\.sid=; Max-Age=0/);
    assert.equal(await client.exists(`sess:${sid}`), 0, 'the old record is destroyed');
    const me = await fetch(`${newApp.url}/who`, { headers: { cookie: pair(sessionid) } });
    assert.equal(((await me.json()) as { userId: string }).userId, '7');
  });

  it('save() on the very request that moves the old session: the cookie is still sent and the old session ended', async () => {
    const { cookie, sid } = await logInOnOldApp();
    const res = await fetch(`${newApp.url}/save`, { method: 'POST', headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    assert.equal(await res.text(), 'saved');
    const sessionid = cookieNamed(res, 'sessionid');
    assert.match(sessionid ?? '', /^sessionid=[a-z0-9]{32};/);
    assert.match(cookieNamed(res, 'connect.sid') ?? '', /^connect\.sid=; Max-Age=0/);
    assert.equal(await client.exists(`sess:${sid}`), 0, 'the old record is destroyed');
    const me = await fetch(`${newApp.url}/me`, { headers: { cookie: pair(sessionid) } });
    assert.match(await me.text(), /^user=42 cart=apple/);
  });

  it('a cookie signed with an older secret of the array is moved too', async () => {
    const sid = 'older-secret-session-id';
    await new Promise<void>((resolve, reject) =>
      oldStore.set(sid, { cookie: { originalMaxAge: null }, userId: '7' } as never, (err?: unknown) => (err ? reject(err) : resolve())),
    );
    const signature = createHmac('sha256', OLDER_SECRET).update(sid).digest('base64').replace(/=+$/, '');
    const res = await fetch(`${newApp.url}/me`, { headers: { cookie: `connect.sid=${encodeURIComponent(`s:${sid}.${signature}`)}` } });
    assert.equal(await res.text(), 'user=7 cart= keys=_session_expiry,userId');
  });

  /** Puts a record in the old store as express-session would, and gives the signed cookie for it. */
  async function oldRecord(sid: string, record: Record<string, unknown>): Promise<string> {
    await new Promise<void>((resolve, reject) => oldStore.set(sid, record as never, (err?: unknown) => (err ? reject(err) : resolve())));
    const signature = createHmac('sha256', OLD_SECRET).update(sid).digest('base64').replace(/=+$/, '');
    return `connect.sid=${encodeURIComponent(`s:${sid}.${signature}`)}`;
  }

  it("drops the keys sessionkit reserves from the old data (they cannot sign anyone in), binds passport's user, keeps the old expiry", async () => {
    const expires = new Date(Date.now() + 20 * 24 * 3600 * 1000);
    const cookie = await oldRecord('reserved-keys-session', {
      cookie: { originalMaxAge: 20 * 24 * 3600 * 1000, expires: expires.toISOString(), httpOnly: true, path: '/' },
      passport: { user: 12 },
      _session_meta: { since: 1, user: 'mallory' },
      _session_expiry: 5,
      _session_anything: 'x',
      _csrftoken: 'planted',
      _flash: ['cart'],
      cart: ['fig'],
      _private: 'an app key that only looks reserved',
    });
    const res = await fetch(`${newApp.url}/who`, { headers: { cookie } });
    assert.deepEqual(await res.json(), {
      userId: '12',
      keys: ['_private', '_session_expiry', '_session_meta', 'cart', 'passport'],
      expiry: expires.toISOString(),
      cart: ['fig'],
      csrfPlanted: false,
    });
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookieNamed(res, 'sessionid') ?? '')?.[1]);
    assert.ok(Math.abs(maxAge - 20 * 24 * 3600) < 120, `the old cookie's 20 days kept: ${maxAge}`);
    const listed = await sessions.listUserSessions('12');
    assert.equal(listed.length, 1, 'listUserSessions finds the migrated visitor');
  });

  it('across processes: the old cookie reaching another process moments after the move gets the same session', async () => {
    const aProcess = () =>
      createSessions({
        store: new RedisStore({ client, prefix: 'sk:' }),
        migrate: fromExpressSession({ secret: OLD_SECRET, store: oldStore }),
      });
    const [one, two] = [aProcess(), aProcess()];
    const cookie = await oldRecord('cross-process-session', { cookie: { originalMaxAge: null }, passport: { user: 31 }, cart: ['kiwi'] });
    const first = await one.load(cookie);
    assert.equal(first.userId, '31');
    assert.match((await one.commit(first)) ?? '', /^sessionid=/);
    assert.equal(await client.exists('sess:cross-process-session'), 0, 'the old record is gone');
    const other = await two.load(cookie);
    assert.equal(other.key, first.key, 'the same session, not a fresh one');
    assert.deepEqual([other.userId, other.get('cart')], ['31', ['kiwi']]);
    for (const key of await client.keys('sess*')) {
      assert.doesNotMatch((await client.get(key)) ?? '', new RegExp(first.key!), 'the old store never holds the new key');
    }
  });

  it('an old record whose cookie has expired is not moved', async () => {
    const cookie = await oldRecord('expired-session', {
      cookie: { originalMaxAge: 1000, expires: new Date(Date.now() - 1000).toISOString() },
      passport: { user: 13 },
    });
    const res = await fetch(`${newApp.url}/who`, { headers: { cookie } });
    assert.equal(((await res.json()) as { userId: string | null }).userId, null);
    assert.equal(cookieNamed(res, 'sessionid'), undefined);
  });

  it('the userId option names the user from the old data; a bad option is a ConfigError', async () => {
    const custom = createSessions({
      store: new MemoryStore(),
      migrate: fromExpressSession({ secret: OLD_SECRET, store: oldStore, userId: (old) => (old.account as { id: string }).id }),
    });
    const cookie = await oldRecord('custom-user-session', { cookie: { originalMaxAge: null }, account: { id: 'u-77' } });
    const session = await custom.load(cookie);
    assert.equal(session.userId, 'u-77', 'bound as the request is loaded, before a handler runs');
    assert.deepEqual(await custom.listUserSessions('u-77').then((l) => l.map((u) => u.id)), [session.id]);
    assert.throws(
      () => fromExpressSession({ secret: OLD_SECRET, store: oldStore, userId: 'passport.user' as never }),
      (e: unknown) => e instanceof ConfigError && e.option === 'userId' && e.message.startsWith('sessionkit:'),
    );
  });

  it('a bad signature or an unknown id is ignored: a fresh session, the old record left alone', async () => {
    const { cookie, sid } = await logInOnOldApp();
    const tampered = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const bad = await fetch(`${newApp.url}/me`, { headers: { cookie: tampered } });
    assert.equal(await bad.text(), 'user=anonymous cart= keys=');
    assert.equal(cookieNamed(bad, 'sessionid'), undefined);
    assert.equal(await client.exists(`sess:${sid}`), 1);
    const signature = createHmac('sha256', OLD_SECRET).update('no-such-id').digest('base64').replace(/=+$/, '');
    const unknown = await fetch(`${newApp.url}/me`, {
      headers: { cookie: `connect.sid=${encodeURIComponent(`s:no-such-id.${signature}`)}` },
    });
    assert.equal(await unknown.text(), 'user=anonymous cart= keys=');
    assert.equal(cookieNamed(unknown, 'sessionid'), undefined);
  });

  it('a migrate option that is not a migration, or a migration without a store, is a ConfigError naming the fix', () => {
    assert.throws(
      () => createSessions({ store: new MemoryStore(), migrate: {} as never }),
      (e: unknown) => e instanceof ConfigError && e.option === 'migrate' && /fromExpressSession/.test(e.message),
    );
    assert.throws(
      () => fromExpressSession({ secret: OLD_SECRET, store: {} as never }),
      (e: unknown) => e instanceof ConfigError && e.option === 'store' && /RedisStore/.test(e.message),
    );
  });

  it('requests without the old cookie, or with a sessionkit cookie, never ask the old store', async () => {
    const before = oldStoreGets;
    await fetch(`${newApp.url}/me`);
    const { cookie } = await logInOnOldApp();
    const moved = await fetch(`${newApp.url}/me`, { headers: { cookie } });
    const sessionid = pair(cookieNamed(moved, 'sessionid'));
    assert.equal(oldStoreGets, before + 1);
    const both = await fetch(`${newApp.url}/me`, { headers: { cookie: `${sessionid}; ${cookie}` } });
    assert.equal(await both.text(), 'user=42 cart=apple keys=_session_expiry,cart,userId');
    assert.equal(oldStoreGets, before + 1, 'the sessionkit cookie wins; the old store is not asked');
  });
});
