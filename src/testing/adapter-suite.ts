import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeSessions, type Sessions } from '../core/sessions.js';
import type { SessionsOptions } from '../core/options.js';
import { StoreUnavailableError } from '../core/errors.js';
import { MemoryStore } from '../stores/memory.js';
import type { SessionStore } from '../core/store.js';
import { digestKey } from '../core/keys.js';
import { tombstoneKey } from '../core/accounts.js';
import { startHarness } from './harness.js';
import { routesFor, type Routes } from './routes.js';

export type { RouteContext, RouteResult, Routes } from './routes.js';

export interface RunningServer {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  close(): Promise<void>;
}

export interface DescribeAdapterOptions {
  /**
   * Starts a real server on 127.0.0.1 using the adapter: every request (any method, any path)
   * goes to `routes` with the adapter's session, and the adapter's response carries the result.
   */
  start?(sessions: Sessions<Record<string, any>>, routes: Routes): Promise<RunningServer>;
  /**
   * For an app that runs in another process (a built Next.js, SvelteKit or React Router app):
   * starts it once for the whole table. The app serves the table's routes (`routesFor` in
   * `routes.ts`) with sessions whose store is this suite's, reached over HTTP at `harnessUrl`.
   */
  serve?(harnessUrl: string): Promise<RunningServer>;
  /**
   * The framework puts a Vary header of its own on every response (Next.js: `rsc, …`;
   * react-router-serve's compression: `Accept-Encoding`): the table
   * then checks that an untouched response's Vary does not name Cookie, rather than that it is absent.
   */
  frameworkVary?: boolean;
  /** How long `serve` may take to start the app, in milliseconds. @default 60000 */
  serveTimeout?: number;
}

/** A store wrapper that counts calls and can be switched off, to see I/O and outages from outside. */
export class ProbeStore implements SessionStore {
  calls = 0;
  down = false;
  /**
   * Set it, and the next `create` waits for it to resolve (after calling `onHeld`): a request
   * held at that write lets a test run a competing request to its end first, by hand.
   */
  holdNextCreate: Promise<void> | null = null;
  onHeld: (() => void) | null = null;
  constructor(readonly inner: MemoryStore) {}
  #gate(): void {
    this.calls++;
    if (this.down) throw new StoreUnavailableError('probe store is down');
  }
  async load(...a: Parameters<SessionStore['load']>) {
    this.#gate();
    return this.inner.load(...a);
  }
  async create(...a: Parameters<SessionStore['create']>) {
    this.#gate();
    const hold = this.holdNextCreate;
    if (hold !== null) {
      this.holdNextCreate = null;
      this.onHeld?.();
      await hold;
    }
    return this.inner.create(...a);
  }
  async update(...a: Parameters<SessionStore['update']>) {
    this.#gate();
    return this.inner.update(...a);
  }
  async delete(...a: Parameters<SessionStore['delete']>) {
    this.#gate();
    return this.inner.delete(...a);
  }
  async exists(...a: Parameters<SessionStore['exists']>) {
    this.#gate();
    return this.inner.exists(...a);
  }
  async clearExpired(...a: Parameters<SessionStore['clearExpired']>) {
    this.#gate();
    return this.inner.clearExpired(...a);
  }
  async stats(...a: Parameters<SessionStore['stats']>) {
    this.#gate();
    return this.inner.stats(...a);
  }
  async close() {}
}

interface Reply {
  status: number;
  body: string;
  setCookie: string[];
  vary: string | null;
  cacheControl: string | null;
  clearSiteData: string | null;
}

async function request(base: string, path: string, cookie?: string, method = 'GET'): Promise<Reply> {
  const res = await fetch(base + path, { method, headers: cookie ? { cookie } : {}, redirect: 'manual' });
  return {
    status: res.status,
    body: await res.text(),
    setCookie: res.headers.getSetCookie(),
    vary: res.headers.get('vary'),
    cacheControl: res.headers.get('cache-control'),
    clearSiteData: res.headers.get('clear-site-data'),
  };
}

const sessionCookieOf = (r: Reply, name = 'sessionid') => r.setCookie.find((c) => c.startsWith(`${name}=`));
const pairOf = (header: string | undefined) => {
  assert.ok(header, 'expected a session Set-Cookie');
  return header.split(';')[0]!;
};

/**
 * The behaviour table every adapter passes (API.md "What reaches the browser"), over a real
 * server on 127.0.0.1 and a real HTTP client.
 */
export function describeAdapter(name: string, options: DescribeAdapterOptions): void {
  describe(`adapter behaviour: ${name}`, () => {
    let remote: { harness: Awaited<ReturnType<typeof startHarness>>; app: RunningServer } | null = null;
    if (options.serve) {
      const serve = options.serve;
      before(
        async () => {
          const harness = await startHarness();
          try {
            remote = { harness, app: await serve(harness.url) };
          } catch (err) {
            await harness.close();
            throw err;
          }
        },
        { timeout: options.serveTimeout ?? 60_000 },
      );
      after(async () => {
        await remote?.app.close();
        await remote?.harness.close();
      });
    }

    async function withServer(
      sessionOptions: Omit<SessionsOptions<unknown>, 'store'>,
      fn: (base: string, probe: ProbeStore, sessions: Sessions<Record<string, any>>, logged: string[]) => Promise<void>,
    ): Promise<void> {
      const probe = new ProbeStore(new MemoryStore({ logger: { warn() {}, error() {} } }));
      const logged: string[] = [];
      const logger = { warn: (m: string) => void logged.push(m), error: (m: string) => void logged.push(m) };
      const sessions = makeSessions<Record<string, any>>({ logger, ...sessionOptions, store: probe }, () => probe);
      if (remote !== null) {
        remote.harness.use(probe, sessionOptions, logged);
        return fn(remote.app.url, probe, sessions, logged);
      }
      if (!options.start) throw new Error('describeAdapter needs start or serve');
      const server = await options.start(sessions, routesFor(probe));
      try {
        await fn(server.url, probe, sessions, logged);
      } finally {
        await server.close();
      }
    }

    it('an untouched request without a cookie gets no cookie, no Vary, and costs no store I/O', () =>
      withServer({}, async (base, probe) => {
        const r = await request(base, '/untouched');
        assert.equal(r.status, 200);
        assert.equal(r.body, 'untouched');
        assert.deepEqual(r.setCookie, []);
        if (options.frameworkVary) assert.doesNotMatch(r.vary ?? '', /cookie/i);
        else assert.equal(r.vary, null);
        await request(base, '/read');
        await request(base, '/flush');
        assert.equal(probe.calls, 0, 'no store call for requests without the session cookie');
      }));

    it('a read without a cookie varies on Cookie but sets none', () =>
      withServer({}, async (base) => {
        const r = await request(base, '/read');
        assert.equal(r.body, 'count=0');
        assert.deepEqual(r.setCookie, []);
        assert.match(r.vary ?? '', /Cookie/);
      }));

    it('a write sets an HttpOnly, SameSite=Lax cookie with a server-made key, Max-Age and Expires', () =>
      withServer({}, async (base) => {
        const r = await request(base, '/incr');
        const c = sessionCookieOf(r)!;
        assert.match(c, /^sessionid=[a-z0-9]{32};/);
        assert.match(c, /; HttpOnly/);
        assert.match(c, /; SameSite=Lax/);
        assert.match(c, /; Path=\//);
        assert.match(c, /; Max-Age=1209600/);
        assert.match(c, /; Expires=/);
        assert.doesNotMatch(c, /Secure|Domain|Partitioned/);
        assert.match(r.vary ?? '', /Cookie/);
      }));

    it('the visit counter counts per visitor', () =>
      withServer({}, async (base) => {
        const first = await request(base, '/incr');
        const cookie = pairOf(sessionCookieOf(first));
        assert.equal((await request(base, '/incr', cookie)).body, 'count=2');
        assert.equal((await request(base, '/incr', cookie)).body, 'count=3');
        assert.equal((await request(base, '/incr')).body, 'count=1', 'another visitor starts at 1');
      }));

    it('cookie options reach the header: Secure, no HttpOnly, SameSite=Strict, Domain, Path, Partitioned', () =>
      withServer(
        {
          cookie: {
            name: 'sid',
            secure: true,
            httpOnly: false,
            sameSite: 'strict',
            domain: '.example.local',
            path: '/',
            partitioned: true,
            maxAge: 60,
          },
        },
        async (base) => {
          const c = sessionCookieOf(await request(base, '/incr'), 'sid')!;
          assert.match(c, /; Secure/);
          assert.doesNotMatch(c, /HttpOnly/);
          assert.match(c, /; SameSite=Strict/);
          assert.match(c, /; Domain=\.example\.local/);
          assert.match(c, /; Partitioned/);
          assert.match(c, /; Max-Age=60/);
        },
      ));

    it('a read with a valid cookie sends no cookie; a write re-sends the same key', () =>
      withServer({}, async (base) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const read = await request(base, '/read', cookie);
        assert.equal(read.body, 'count=1');
        assert.deepEqual(read.setCookie, []);
        assert.match(read.vary ?? '', /Cookie/);
        const write = await request(base, '/incr', cookie);
        assert.equal(pairOf(sessionCookieOf(write)), cookie);
      }));

    it('a request with a cookie loads the session once', () =>
      withServer({}, async (base, probe) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const before = probe.calls;
        await request(base, '/read-twice', cookie);
        assert.equal(probe.calls - before, 1);
      }));

    it('flush with a cookie deletes the row and expires the cookie', () =>
      withServer({}, async (base, probe) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const key = cookie.split('=')[1]!;
        const r = await request(base, '/flush', cookie);
        const c = sessionCookieOf(r)!;
        assert.match(c, /^sessionid=;/);
        assert.match(c, /Max-Age=0/);
        assert.match(c, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
        assert.match(c, /Path=\//);
        assert.match(r.vary ?? '', /Cookie/);
        assert.equal(await probe.inner.exists(key), false);
        assert.equal((await request(base, '/read', cookie)).body, 'count=0', 'the old key loads nothing');
      }));

    it('the deletion cookie keeps the custom domain and path', () =>
      withServer({ cookie: { domain: '.example.local', path: '/' } }, async (base) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const c = sessionCookieOf(await request(base, '/flush', cookie))!;
        assert.match(c, /Max-Age=0/);
        assert.match(c, /Domain=\.example\.local/);
        assert.match(c, /Path=\//);
      }));

    it('every response with a session Set-Cookie gets Cache-Control: private, no-store, unless the app set its own', () =>
      withServer({}, async (base) => {
        const created = await request(base, '/incr');
        assert.equal(created.cacheControl, 'private, no-store', 'a new session');
        const cookie = pairOf(sessionCookieOf(created));
        const read = await request(base, '/read', cookie);
        assert.deepEqual(read.setCookie, []);
        assert.doesNotMatch(read.cacheControl ?? '', /no-store/, 'no Set-Cookie, no Cache-Control of ours');
        assert.equal((await request(base, '/incr', cookie)).cacheControl, 'private, no-store', 'a refreshed cookie');
        const own = await request(base, '/own-cache', cookie);
        assert.ok(sessionCookieOf(own));
        assert.equal(own.cacheControl, 'no-cache', "the app's own Cache-Control is kept");
        const logout = await request(base, '/flush', cookie);
        assert.match(sessionCookieOf(logout)!, /Max-Age=0/);
        assert.equal(logout.cacheControl, 'private, no-store', "a logout's expired cookie");
        assert.equal(logout.clearSiteData, null, 'Clear-Site-Data only when asked');
      }));

    it('flush({ clearSiteData: true }) adds Clear-Site-Data: "cookies" to the logout response', () =>
      withServer({}, async (base, probe) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const r = await request(base, '/flush-clear', cookie);
        assert.equal(r.clearSiteData, '"cookies"');
        assert.match(sessionCookieOf(r)!, /Max-Age=0/);
        assert.equal(await probe.inner.exists(cookie.split('=')[1]!), false);
        assert.equal((await request(base, '/flush-clear')).clearSiteData, '"cookies"', 'without a cookie too');
      }));

    it('flush without a cookie sets no cookie but varies', () =>
      withServer({}, async (base) => {
        const r = await request(base, '/flush');
        assert.deepEqual(r.setCookie, []);
        assert.match(r.vary ?? '', /Cookie/);
      }));

    it('cycleKey answers a new key and the old one loads nothing', () =>
      withServer({}, async (base) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const next = pairOf(sessionCookieOf(await request(base, '/cycle', cookie)));
        assert.notEqual(next, cookie);
        assert.equal((await request(base, '/read', next)).body, 'count=1');
        assert.equal((await request(base, '/read', cookie)).body, 'count=0');
      }));

    it('session.id is the public id (the SHA-256 digest of the key), never the key', () =>
      withServer({}, async (base) => {
        const first = await request(base, '/id');
        const key = pairOf(sessionCookieOf(first)).split('=')[1]!;
        assert.equal(first.body, 'id=null', 'a session not saved yet has no id');
        const again = await request(base, '/id', `sessionid=${key}`);
        assert.equal(again.body, `id=${digestKey(key)}`);
        assert.ok(!again.body.includes(key), 'the key never shows');
      }));

    it('a request with the key a login replaced moments ago never replaces the new cookie', () =>
      withServer({}, async (base) => {
        const old = pairOf(sessionCookieOf(await request(base, '/incr')));
        const login = await request(base, '/login?user=alice', old);
        assert.equal(login.body, 'user=alice');
        const signedIn = pairOf(sessionCookieOf(login));
        assert.notEqual(signedIn, old);
        // the page's other requests, sent with the old cookie before the new one arrived
        const read = await request(base, '/read', old);
        assert.equal(sessionCookieOf(read), undefined, 'no session cookie on a read with the replaced key');
        const write = await request(base, '/incr', old);
        assert.equal(sessionCookieOf(write), undefined, 'no session cookie on a write with the replaced key');
        assert.notEqual(write.status, 200, 'the write with the replaced key is refused');
        assert.equal((await request(base, '/read', signedIn)).body, 'count=1', 'the signed-in session is whole');
      }));

    it('a logout that lands while a key rotation is in flight wins: no session comes back', () =>
      withServer({}, async (base, probe) => {
        const old = pairOf(sessionCookieOf(await request(base, '/incr')));
        let release!: () => void;
        probe.holdNextCreate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const held = new Promise<void>((resolve) => {
          probe.onHeld = resolve;
        });
        const cycling = request(base, '/cycle', old);
        await held; // the rotation waits to write its new key
        const logout = await request(base, '/flush', old);
        assert.equal(logout.body, 'flushed');
        release();
        const rotated = await cycling;
        assert.notEqual(rotated.body, 'cycled', 'the rotation that lost to the logout is refused');
        for (const header of rotated.setCookie.filter((c) => c.startsWith('sessionid='))) {
          const pair = header.split(';')[0]!;
          if (pair === 'sessionid=') continue;
          assert.equal((await request(base, '/read', pair)).body, 'count=0', 'a cookie the rotation sent loads nothing');
        }
        assert.equal((await request(base, '/read', old)).body, 'count=0', 'the old cookie loads nothing');
        const oldKey = old.split('=')[1]!;
        assert.equal(await probe.inner.exists(oldKey), false, 'the old record is gone');
        const tombstone = (await probe.inner.exists(tombstoneKey(digestKey(oldKey)))) ? 1 : 0;
        assert.equal((await probe.inner.stats()).count, tombstone, 'no session record is left, only the marker of the replaced key');
      }));

    it('a response with status 500 or above saves nothing', () =>
      withServer({}, async (base, probe) => {
        for (const status of [500, 503]) {
          const r = await request(base, `/fail?status=${status}`);
          assert.equal(r.status, status);
          assert.equal(sessionCookieOf(r), undefined);
        }
        assert.equal((await probe.inner.stats()).count, 0);
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        await request(base, '/fail', cookie);
        const key = cookie.split('=')[1]!;
        assert.equal((await probe.inner.load(key))!.data.hello, undefined);
      }));

    it('a made-up or tampered cookie key is never adopted', () =>
      withServer({}, async (base, probe) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const key = cookie.split('=')[1]!;
        const tampered = key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a');
        for (const bad of [tampered, 'a'.repeat(32), 'not-a-key-at-all', 'Z'.repeat(32)]) {
          const r = await request(base, '/incr', `sessionid=${bad}`);
          assert.equal(r.body, 'count=1');
          const got = pairOf(sessionCookieOf(r)).split('=')[1]!;
          assert.notEqual(got, bad);
          assert.match(got, /^[a-z0-9]{32}$/);
          assert.equal(await probe.inner.exists(bad), false);
        }
      }));

    it('an unknown cookie that is read gets deleted; a short one is deleted even untouched', () =>
      withServer({}, async (base) => {
        const read = await request(base, '/read', `sessionid=${'q'.repeat(32)}`);
        assert.match(sessionCookieOf(read) ?? '', /Max-Age=0/);
        const untouched = await request(base, '/untouched', `sessionid=${'q'.repeat(32)}`);
        assert.deepEqual(untouched.setCookie, []);
        const short = await request(base, '/untouched', 'sessionid=abc');
        assert.match(sessionCookieOf(short) ?? '', /Max-Age=0/);
        assert.match(short.vary ?? '', /Cookie/);
      }));

    it('a session deleted elsewhere while this request changed it answers 400 and is not brought back', () =>
      withServer({}, async (base, probe) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        const r = await request(base, '/deleted-elsewhere', cookie);
        assert.equal(r.status, 400);
        assert.notEqual(r.body, 'should not be seen');
        assert.match(r.body, /^Bad Request: the session ended while this request was handled/);
        assert.equal(await probe.inner.exists(cookie.split('=')[1]!), false);
      }));

    it('a store that is down answers 503, on load and on commit, logged through the sessions logger', () =>
      withServer({}, async (base, probe, _sessions, logged) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        probe.down = true;
        const load = await request(base, '/read', cookie);
        assert.equal(load.status, 503, 'load fails');
        assert.match(load.body, /^Service Unavailable: the session store cannot be reached/);
        const commit = await request(base, '/incr');
        assert.equal(commit.status, 503, 'commit fails');
        assert.match(commit.body, /^Service Unavailable: the session store cannot be reached/);
        assert.doesNotMatch(commit.body, /probe store/, 'the store failure text stays in the log');
        assert.ok(
          logged.some((m) => /answering 503/.test(m)),
          'the outage is logged through the logger option',
        );
        assert.equal((await request(base, '/untouched')).status, 200, 'no cookie, no store: still served');
        probe.down = false;
        assert.equal((await request(base, '/read', cookie)).body, 'count=1', 'nothing was lost');
      }));

    it("the application's own Set-Cookie and Vary headers are kept", () =>
      withServer({}, async (base) => {
        const r = await request(base, '/own-headers');
        assert.ok(r.setCookie.some((c) => c.startsWith('theme=dark')));
        assert.ok(sessionCookieOf(r));
        assert.match(r.vary ?? '', /Accept-Encoding/);
        assert.match(r.vary ?? '', /Cookie/);
      }));

    it('a redirect and a streamed response carry the cookie too', () =>
      withServer({}, async (base) => {
        const redirect = await request(base, '/redirect');
        assert.equal(redirect.status, 303);
        assert.ok(sessionCookieOf(redirect));
        const stream = await request(base, '/stream');
        assert.equal(stream.body, 'chunk-one/chunk-two');
        assert.ok(sessionCookieOf(stream));
      }));

    it('saveEveryRequest re-sends the cookie on a read', () =>
      withServer({ saveEveryRequest: true }, async (base) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        assert.equal(pairOf(sessionCookieOf(await request(base, '/read', cookie))), cookie);
        assert.deepEqual((await request(base, '/untouched')).setCookie, [], 'an empty session is never saved');
      }));

    it('a browser-close session gets a cookie without Max-Age or Expires', () =>
      withServer({}, async (base) => {
        const c = sessionCookieOf(await request(base, '/browser-close'))!;
        assert.doesNotMatch(c, /Max-Age|Expires/i);
      }));

    it('corrupt stored data reads as an empty session, never a 500', () =>
      withServer({}, async (base, probe) => {
        const cookie = pairOf(sessionCookieOf(await request(base, '/incr')));
        probe.inner.putRaw(cookie.split('=')[1]!, '}{ garbage', Date.now() + 60_000);
        const r = await request(base, '/read', cookie);
        assert.equal(r.status, 200);
        assert.equal(r.body, 'count=0');
      }));
  });
}
