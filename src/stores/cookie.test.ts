import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MAX_DEPTH } from '../core/codec.js';
import { makeSessions } from '../core/sessions.js';
import { ConfigError, SessionDataError } from '../core/errors.js';
import { createSigner } from '../core/signing.js';
import { describeStore, recordingLogger } from '../testing/store-suite.js';
import { CookieStore, MAX_COOKIE_JSON_BYTES } from './cookie.js';

describeStore('CookieStore', {
  clientSide: true,
  setup(logger) {
    return { store: new CookieStore({ secret: SECRET_A, logger }) };
  },
});

const T = 1700000000_000;
/** Strong secrets, as `openssl rand -base64 48` makes them. */
const SECRET_A = 'lD3p0Jc8d8cRz9Q0m3k8mKQ6f8QyZr1mJ7rY3bM2l5pQ9vW4sT6uX1yZ0aB2cD4e';
const SECRET_B = 'Q0m3k8mKQ6f8QyZr1mJ7rY3bM2l5pQ9vW4sT6uX1yZ0aB2cD4elD3p0Jc8d8cRz9';
const DAY = 86400;

describe('CookieStore specifics', () => {
  const setup = (secret: string | string[] = SECRET_A, clockAt = T) => {
    const logger = recordingLogger();
    let clock = clockAt;
    const store = new CookieStore({ secret, logger });
    const sessions = makeSessions<Record<string, any>>({ store, logger, clock: () => clock }, () => {
      throw new Error('unreachable');
    });
    return { store, sessions, logger, tick: (ms: number) => void (clock += ms) };
  };
  const cookieOf = (header: string | null) => header!.split(';')[0]!;
  const cookieValue = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

  it("reads Django's own signed_cookies value (the worked example of django-format.md)", () => {
    // the worked example is signed with a Django site's (weak) SECRET_KEY
    const store = new CookieStore({ secret: 'test-secret', sharedWithDjango: true, logger: recordingLogger() });
    assert.deepEqual(store.unseal('eyJjYXQiOiJkb2cifQ:1r31eq:or5lsglRfetFdncdU2Aox9ybSSoBH7pCLi7z9dhc_CY', 1209600, T), {
      data: { cat: 'dog' },
    });
    assert.equal(store.seal({ cat: 'dog' }, T), 'eyJjYXQiOiJkb2cifQ:1r31eq:or5lsglRfetFdncdU2Aox9ybSSoBH7pCLi7z9dhc_CY');
  });

  it('a tampered value reads as a fresh session and is logged as a security event', async () => {
    const { sessions, logger } = setup();
    const s = await sessions.load();
    s.set('user', 'alice');
    const cookie = cookieOf(await sessions.commit(s));
    const forged = cookie.replace(/^sessionid=eyJ/, 'sessionid=eyK');
    const before = logger.records.length;
    const t = await sessions.load(forged);
    assert.equal(t.get('user'), undefined);
    assert.ok(logger.records.slice(before).some((r) => r.level === 'warn' && /signature/.test(r.message)));
    t.set('x', 1);
    assert.notEqual(cookieValue(cookieOf(await sessions.commit(t))), cookieValue(forged));
  });

  it('a cookie signed with another secret is not accepted', async () => {
    const a = setup(SECRET_A);
    const b = setup(SECRET_B);
    const s = await a.sessions.load();
    s.set('user', 'alice');
    const cookie = cookieOf(await a.sessions.commit(s));
    assert.equal((await b.sessions.load(cookie)).get('user'), undefined);
    assert.equal(b.logger.records.length, 1);
  });

  it('rotation: a cookie signed with the old key still loads; new cookies are signed with the first key', async () => {
    const OLD = `old-${SECRET_A}`;
    const NEW = `new-${SECRET_B}`;
    const old = setup(OLD);
    const s = await old.sessions.load();
    s.set('user', 'alice');
    const oldCookie = cookieOf(await old.sessions.commit(s));

    const rotated = setup([NEW, OLD]);
    const t = await rotated.sessions.load(oldCookie);
    assert.equal(t.get('user'), 'alice');
    t.set('n', 1);
    const newCookie = cookieOf(await rotated.sessions.commit(t));
    assert.equal((await setup(NEW).sessions.load(newCookie)).get('user'), 'alice');
    assert.equal((await old.sessions.load(newCookie)).get('user'), undefined, 'not signed with the old key');
  });

  it('a cookie older than cookie.maxAge, by its signed timestamp, is expired', async () => {
    const { sessions, tick, logger } = setup();
    const s = await sessions.load();
    s.set('user', 'alice');
    const cookie = cookieOf(await sessions.commit(s));
    tick(14 * DAY * 1000);
    assert.equal((await sessions.load(cookie)).get('user'), 'alice', 'exactly maxAge old is still valid (Django: age > max_age)');
    tick(1000);
    assert.equal((await sessions.load(cookie)).get('user'), undefined);
    assert.equal(logger.records.length, 0, 'ageing out is not a security event');
  });

  it("the session's own expiry is honoured too, from the signing time (Django ignores it: #19201)", async () => {
    const { sessions, tick } = setup();
    const s = await sessions.load();
    s.set('user', 'alice');
    s.setExpiry(60);
    const cookie = cookieOf(await sessions.commit(s));
    tick(60_000);
    assert.equal((await sessions.load(cookie)).get('user'), 'alice');
    tick(1000);
    assert.equal((await sessions.load(cookie)).get('user'), undefined);
  });

  it('a session too large for a cookie is a SessionDataError with the size', async () => {
    const { sessions } = setup();
    const s = await sessions.load();
    s.set('blob', randomBytes(4000).toString('base64')); // incompressible
    await assert.rejects(
      sessions.commit(s),
      (err: unknown) => err instanceof SessionDataError && /would be \d{4} bytes/.test(err.message) && /4096/.test(err.message),
    );
  });

  it('the limit counts name=value: a cookie is refused exactly when name=value passes 4096 bytes', () => {
    const signer = createSigner({ secret: SECRET_A, salt: 'django.contrib.sessions.backends.signed_cookies' });
    let text = '';
    for (let h = 'seed'; text.length < 8000; ) text += h = createHash('sha256').update(h).digest('base64url');
    for (const name of ['sessionid', 'a-much-longer-session-cookie-name']) {
      const store = new CookieStore({ secret: SECRET_A, cookieName: name });
      let largestAccepted = 0;
      let refused = 0;
      for (let len = 2500; len < 4500; len += 7) {
        const data = { b: text.slice(0, len) };
        const size = name.length + 1 + signer.dumps(data, T).length;
        let threw = false;
        try {
          store.seal(data, T);
        } catch (err) {
          assert.ok(err instanceof SessionDataError && err.message.includes(`${size} bytes`));
          threw = true;
        }
        assert.equal(threw, size > 4096, `size ${size}`);
        if (threw) refused++;
        else largestAccepted = Math.max(largestAccepted, size);
      }
      assert.ok(refused > 0 && largestAccepted > 4080, `${largestAccepted}`);
    }
  });

  it("a value signed for Django's server-side salt is rejected", () => {
    const logger = recordingLogger();
    const store = new CookieStore({ secret: SECRET_A, logger });
    const dbToken = createSigner({ secret: SECRET_A, salt: 'django.contrib.sessions.SessionStore' }).dumps({ user: 'alice' }, T);
    assert.equal(store.unseal(dbToken, 1209600, T), null);
    assert.equal(logger.records.length, 1);
  });

  it('a verified value that is not an object reads as a fresh session', () => {
    const logger = recordingLogger();
    const store = new CookieStore({ secret: SECRET_A, logger });
    const list = createSigner({ secret: SECRET_A, salt: 'django.contrib.sessions.backends.signed_cookies' }).dumps([1, 2], T);
    assert.equal(store.unseal(list, 1209600, T), null);
    assert.equal(logger.records.length, 1);
  });

  it('a missing or empty secret is a ConfigError at construction', () => {
    for (const secret of [undefined, '', [], [SECRET_A, '']]) {
      assert.throws(() => new CookieStore({ secret: secret as any }), ConfigError);
    }
  });

  it('clearExpired has nothing to clear', async () => {
    assert.equal(await new CookieStore({ secret: SECRET_A }).clearExpired(), 0);
  });

  it('never seals what it cannot unseal: JSON over the decompression cap is a SessionDataError naming size and limit', async () => {
    const { sessions, store } = setup();
    const s = await sessions.load();
    s.set('blob', 'a'.repeat(MAX_COOKIE_JSON_BYTES)); // compresses to a small cookie, inflates past the cap
    await assert.rejects(
      sessions.commit(s),
      (err: unknown) =>
        err instanceof SessionDataError &&
        new RegExp(`${MAX_COOKIE_JSON_BYTES + 11} bytes`).test(err.message) &&
        /1048576/.test(err.message),
    );
    const fits = { blob: 'a'.repeat(MAX_COOKIE_JSON_BYTES - 11) };
    assert.deepEqual(store.unseal(store.seal(fits, T), DAY, T)?.data, fits, 'at the cap it still reads back');
  });

  it('a weak secret, rotation fallbacks included, is a ConfigError that says how to make one', () => {
    const weak = [
      'k',
      'x'.repeat(64),
      ' '.repeat(40),
      '\0'.repeat(40),
      'ab'.repeat(32),
      'short-but-varied-1234',
      `${SECRET_A.slice(0, 20)}\0${SECRET_A}`,
    ];
    for (const secret of [...weak, ...weak.map((w) => [SECRET_A, w])]) {
      assert.throws(
        () => new CookieStore({ secret }),
        (err: unknown) =>
          err instanceof ConfigError && /openssl rand -base64 48/.test(err.message) && err.message.startsWith('sessionkit:'),
        JSON.stringify(secret),
      );
    }
    assert.throws(() => new CookieStore({ secret: [SECRET_A, 'k'] }), /rotation fallback #1/);
  });

  it("a Django site's weak SECRET_KEY is accepted with one warning when sharedWithDjango says so", () => {
    const logger = recordingLogger();
    new CookieStore({ secret: ['test-secret', 'older'], sharedWithDjango: true, logger });
    assert.equal(logger.records.length, 1);
    assert.match(logger.records[0]!.message, /weak.*openssl rand -base64 48/);
    const quiet = recordingLogger();
    new CookieStore({ secret: SECRET_A, sharedWithDjango: true, logger: quiet });
    assert.equal(quiet.records.length, 0, 'a strong one is not warned about');
  });

  it('bad-cookie warnings are rate-limited: one per minute, then a count of those held back', async () => {
    const logger = recordingLogger();
    let clock = T;
    const store = new CookieStore({ secret: SECRET_A, logger, clock: () => clock });
    const sessions = makeSessions<Record<string, any>>({ store, logger, clock: () => clock }, () => {
      throw new Error('unreachable');
    });
    for (let i = 0; i < 1000; i++) await sessions.load(`sessionid=forged${i}:1r31eq:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    assert.equal(logger.records.length, 1);
    clock += 61_000;
    await sessions.load('sessionid=forged:1r31eq:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(logger.records.length, 2);
    assert.equal(logger.records[1]!.details?.suppressed, 999);
  });

  it('a cookie nested deeper than the limit loads as a fresh session, logged', async () => {
    const { sessions, store, logger } = setup();
    let deep: unknown = 'bottom';
    for (let i = 0; i < MAX_DEPTH + 50; i++) deep = [deep];
    const s = await sessions.load(`sessionid=${store.seal({ deep, user: 'alice' }, T)}`);
    assert.equal(s.get('user'), undefined);
    assert.ok(logger.records.some((r) => /deeper than/.test(r.message)));
    s.set('x', 1);
    assert.ok(await sessions.commit(s));
  });
});
