import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSessions } from '../index.js';
import { MemoryStore } from '../stores/memory.js';
import { sessionMiddleware, sessionStorage } from './react-router.js';

const cookieOf = (setCookie: string) => setCookie.split(';')[0]!;
const maxAgeOf = (setCookie: string) => Number(/; Max-Age=(\d+)/.exec(setCookie)?.[1]);

describe('React Router drop-in (sessionStorage)', () => {
  const setup = () => {
    const store = new MemoryStore();
    const sessions = createSessions<{ theme: string }>({ store });
    return { store, sessions, storage: sessionStorage(sessions) };
  };

  it('commitSession of a session that did not change re-sends its cookie with its current expiry, writing nothing', async () => {
    const { store, storage } = setup();
    const first = await storage.getSession(null);
    first.set('theme', 'dark');
    const saved = await storage.commitSession(first);
    const cookie = cookieOf(saved);
    assert.match(cookie, /^sessionid=[a-z0-9]{32}$/);
    const key = cookie.slice('sessionid='.length);
    const before = (await store.load(key))?.version;
    assert.equal(typeof before, 'number');
    const read = await storage.getSession(cookie);
    assert.equal(read.get('theme'), 'dark');
    const again = await storage.commitSession(read);
    assert.notEqual(again, '', 'never an empty string');
    assert.equal(cookieOf(again), cookie, 'the same cookie, re-sent');
    assert.ok(maxAgeOf(again) > 1209600 - 5 && maxAgeOf(again) <= 1209600, `Max-Age ${maxAgeOf(again)}`);
    assert.equal((await store.load(key))?.version, before, 'no store write');
  });

  it('commitSession of a new session with nothing to save answers an expired cookie, not an empty string', async () => {
    const { storage } = setup();
    const fresh = await storage.getSession(undefined);
    fresh.get('theme');
    const answer = await storage.commitSession(fresh);
    assert.match(answer, /^sessionid=; Max-Age=0/);
  });

  it('session.id is the public id (SHA-256 of the key), never the key; login() binds the user and rotates the key', async () => {
    const { sessions, storage } = setup();
    const s = await storage.getSession(null);
    assert.equal(s.id, '', 'no id before the session is saved');
    s.set('theme', 'light');
    const before = cookieOf(await storage.commitSession(s)).slice('sessionid='.length);
    const loaded = await storage.getSession(`sessionid=${before}`);
    assert.equal(loaded.id, createHash('sha256').update(before).digest('hex'));
    assert.notEqual(loaded.id, before);
    await loaded.login('42');
    const after = cookieOf(await storage.commitSession(loaded)).slice('sessionid='.length);
    assert.notEqual(after, before, 'login rotates the key');
    assert.equal(loaded.userId, '42');
    assert.equal(loaded.id, createHash('sha256').update(after).digest('hex'));
    const [device] = await sessions.listUserSessions('42');
    assert.equal(device?.id, loaded.id);
    assert.equal(
      (await storage.getSession(`sessionid=${after}`)).get('theme'),
      'light',
      'login of a session bound to no user keeps the data',
    );
  });

  it('destroySession answers an expired cookie', async () => {
    const { storage } = setup();
    const s = await storage.getSession(null);
    s.set('theme', 'dark');
    const cookie = cookieOf(await storage.commitSession(s));
    assert.match(await storage.destroySession(await storage.getSession(cookie)), /^sessionid=; Max-Age=0/);
  });

  it('sessionMiddleware adds Vary: Cookie to a response that carries the drop-in cookie', async () => {
    const { sessions, storage } = setup();
    const middleware = sessionMiddleware(sessions);
    const context = { set() {}, get() {} } as never;
    const request = new Request('http://localhost/theme');
    const response = (await middleware({ request, context, params: {}, unstable_pattern: '' } as never, async () => {
      const s = await storage.getSession(request.headers.get('Cookie'));
      s.get('theme');
      return new Response('ok', { headers: { 'Set-Cookie': await storage.commitSession(s), Vary: 'Accept-Encoding' } });
    })) as Response;
    assert.equal(response.headers.get('vary'), 'Accept-Encoding, Cookie');
    const plain = (await middleware(
      { request, context, params: {}, unstable_pattern: '' } as never,
      async () => new Response('ok'),
    )) as Response;
    assert.equal(plain.headers.get('vary'), null, 'no session cookie, no Vary');
  });
});
