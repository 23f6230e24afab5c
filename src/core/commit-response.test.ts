import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serialize } from 'cookie';
import {
  ConfigError,
  createSessions,
  MemoryStore,
  SessionDataError,
  sessionErrorResponse,
  SessionInterruptedError,
  SessionKeyError,
  StoreUnavailableError,
  type CommitResponse,
} from '../index.js';
import { loadForRequest } from './sessions.js';

const at = Date.UTC(2030, 0, 1, 12, 0, 0);
const clock = () => at;

describe('commitResponse: the framework-neutral commit', () => {
  it('answers synchronously, with nothing to send, for an untouched session', async () => {
    const sessions = createSessions({ store: new MemoryStore(), clock });
    const result = sessions.commitResponse(await sessions.load());
    assert.ok(!(result instanceof Promise), 'no promise when no store write is due');
    assert.deepEqual({ ...result, cookie: result.cookie }, { setCookie: null, cookie: null, vary: false });
  });

  it('answers synchronously with vary for a read-only session', async () => {
    const sessions = createSessions({ store: new MemoryStore(), clock });
    const s = await sessions.load();
    s.get('x');
    const result = sessions.commitResponse(s) as CommitResponse;
    assert.ok(!(result instanceof Promise));
    assert.equal(result.vary, true);
    assert.equal(result.setCookie, null);
    assert.equal(result.cookie, null);
  });

  it('a write resolves to the Set-Cookie value and the same cookie as name, value and serialize-style options', async () => {
    const sessions = createSessions({ store: new MemoryStore(), clock, cookie: { domain: '.example.com', maxAge: 3600 } });
    const s = await sessions.load();
    s.set('x', 1);
    const pending = sessions.commitResponse(s, { status: 201 });
    assert.ok(pending instanceof Promise, 'a store write is due');
    const { setCookie, cookie, vary } = await pending;
    assert.equal(vary, true);
    assert.ok(cookie);
    assert.equal(cookie.name, 'sessionid');
    assert.equal(cookie.value, s.key);
    assert.deepEqual(cookie.options, {
      maxAge: 3600,
      expires: new Date(at + 3600_000),
      domain: '.example.com',
      path: '/',
      secure: false,
      httpOnly: true,
      sameSite: 'lax',
      partitioned: false,
    });
    assert.equal(serialize(cookie.name, cookie.value, cookie.options), setCookie, 'the parts serialize to the header');
  });

  it('an emptied session with a cookie answers the deletion cookie, synchronously', async () => {
    const sessions = createSessions({ store: new MemoryStore(), clock, cookie: { sameSite: false } });
    const first = await sessions.load();
    first.set('x', 1);
    const pair = (await sessions.commit(first))!.split(';')[0]!;
    const s = await sessions.load(pair);
    await s.flush();
    const result = sessions.commitResponse(s) as CommitResponse;
    assert.ok(!(result instanceof Promise));
    assert.match(result.setCookie!, /^sessionid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly$/);
    assert.deepEqual(result.cookie, {
      name: 'sessionid',
      value: '',
      options: { maxAge: 0, expires: new Date(0), path: '/', secure: false, httpOnly: true, partitioned: false },
    });
    assert.equal(serialize(result.cookie!.name, '', result.cookie!.options), result.setCookie);
  });

  it('a browser-close session gives options without maxAge or expires', async () => {
    const sessions = createSessions({ store: new MemoryStore(), clock, expireAtBrowserClose: true });
    const s = await sessions.load();
    s.set('x', 1);
    const { cookie, setCookie } = await sessions.commitResponse(s);
    assert.equal(cookie!.options.maxAge, undefined);
    assert.equal(cookie!.options.expires, undefined);
    assert.doesNotMatch(setCookie!, /Max-Age|Expires/);
  });

  it('status 500 and above saves nothing', async () => {
    const store = new MemoryStore();
    const sessions = createSessions({ store, clock });
    const s = await sessions.load();
    s.set('x', 1);
    const result = sessions.commitResponse(s, { status: 500 }) as CommitResponse;
    assert.ok(!(result instanceof Promise));
    assert.equal(result.setCookie, null);
    assert.equal((await store.stats(at)).count, 0);
  });

  it('sessions.logger is the logger option', () => {
    const logger = { warn() {}, error() {} };
    assert.equal(createSessions({ store: new MemoryStore(), logger }).logger, logger);
  });

  it('loadForRequest gives the Session itself when no store I/O is needed', async () => {
    const sessions = createSessions({ store: new MemoryStore() });
    const s = loadForRequest(sessions, 'other=1');
    assert.ok(!(s instanceof Promise));
    assert.equal(s.key, null);
  });
});

describe('sessionErrorResponse and SessionError#status', () => {
  it('400 for SessionInterruptedError, 503 for StoreUnavailableError, 500 for the rest, null for other errors', () => {
    const interrupted = sessionErrorResponse(new SessionInterruptedError());
    assert.equal(interrupted?.status, 400);
    assert.match(interrupted!.text, /^Bad Request/);
    const down = sessionErrorResponse(new StoreUnavailableError('redis is down at 10.0.0.1'));
    assert.equal(down?.status, 503);
    assert.doesNotMatch(down!.text, /redis|10\.0\.0\.1/, 'the text reveals nothing of the application');
    for (const err of [new SessionKeyError('k'), new SessionDataError('too big'), new ConfigError('cookie', 'bad')]) {
      assert.equal(err.status, 500);
      assert.deepEqual(sessionErrorResponse(err), { status: 500, text: 'Internal Server Error\n' });
    }
    assert.equal(sessionErrorResponse(new Error('not ours')), null);
    assert.equal(sessionErrorResponse('a string'), null);
  });
});

describe('a commit that gives up after conflicting writes', () => {
  it('says the session kept changing, not that someone logged out', async () => {
    class BusyStore extends MemoryStore {
      override async update() {
        return { status: 'conflict' as const };
      }
    }
    const logged: string[] = [];
    const store = new BusyStore();
    const sessions = createSessions({ store, logger: { warn() {}, error: (m) => logged.push(m) } });
    const s = await sessions.load();
    s.set('n', 1);
    const pair = (await sessions.commit(s))!.split(';')[0]!;
    const again = await sessions.load(pair);
    again.set('n', 2);
    await assert.rejects(sessions.commit(again), (err: unknown) => {
      assert.ok(err instanceof SessionInterruptedError);
      assert.equal(err.status, 400);
      assert.match(err.message, /kept changing/);
      assert.match(err.responseText, /kept changing/);
      assert.doesNotMatch(err.message + err.responseText, /log(ged)? ?out|deleted/i);
      return true;
    });
    assert.equal(logged.length, 1);
  });
});
