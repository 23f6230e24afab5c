import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeKey, proof, signJwt } from '../../test/support/dbsc-client.js';
import { MemoryStore } from '../stores/memory.js';
import { CookieStore } from '../stores/cookie.js';
import { deviceBoundRequest } from './device-bound-endpoint.js';
import {
  consumeChallenge,
  jwkThumbprint,
  MAX_CHALLENGES,
  publicJwkOf,
  sfStringValue,
  verifyJws,
  verifyProof,
  withChallenge,
} from './device-bound.js';
import { ConfigError } from './errors.js';
import { makeSessions } from './sessions.js';

// RFC 7515 Appendix A.3: an ES256 JWS and the P-256 public key that verifies it.
const RFC7515_A3 = {
  token:
    'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q',
  jwk: {
    kty: 'EC',
    crv: 'P-256',
    x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  } as const,
};
// RFC 7638 §3.1: an RSA public key and its SHA-256 thumbprint.
const RFC7638 = {
  jwk: {
    kty: 'RSA',
    e: 'AQAB',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  } as const,
  thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
};

describe('DBSC proofs (Web Crypto)', () => {
  it('verifies the ES256 signature of RFC 7515 Appendix A.3, and not a changed payload', async () => {
    assert.equal(await verifyJws(RFC7515_A3.token, RFC7515_A3.jwk, 'ES256'), true);
    const [h, , s] = RFC7515_A3.token.split('.');
    const changed = `${h}.${Buffer.from('{"iss":"mallory"}').toString('base64url')}.${s}`;
    assert.equal(await verifyJws(changed, RFC7515_A3.jwk, 'ES256'), false);
  });

  it('computes the RFC 7638 §3.1 thumbprint', () => {
    assert.equal(jwkThumbprint(RFC7638.jwk), RFC7638.thumbprint);
  });

  it('accepts a registration proof of each algorithm with its jwk, and a refresh proof by the registered key', async () => {
    for (const alg of ['ES256', 'RS256'] as const) {
      const key = await makeKey(alg);
      const reg = await verifyProof(await proof(key, 'c1', { withJwk: true, authorization: 'ac' }), null);
      assert.ok(reg.ok, alg);
      assert.equal(reg.proof.jti, 'c1');
      assert.equal(reg.proof.authorization, 'ac');
      assert.deepEqual(reg.proof.jwk, key.jwk);
      const ref = await verifyProof(await proof(key, 'c2', { withJwk: false }), { jwk: reg.proof.jwk!, alg });
      assert.ok(ref.ok, alg);
    }
  });

  it('refuses proofs that are not DBSC proofs of the right key', async () => {
    const key = await makeKey('ES256');
    const other = await makeKey('ES256');
    const registered = { jwk: publicJwkOf(key.jwk, 'ES256')!, alg: 'ES256' as const };
    const cases: [string, Promise<string> | string, typeof registered | null][] = [
      ['typ not dbsc+jwt', signJwt(key, { alg: 'ES256', typ: 'JWT', jwk: key.jwk }, { jti: 'c' }), null],
      [
        'alg none',
        `${Buffer.from('{"alg":"none","typ":"dbsc+jwt"}').toString('base64url')}.${Buffer.from('{"jti":"c"}').toString('base64url')}.x`,
        null,
      ],
      ['HS256', signJwt(key, { alg: 'HS256', typ: 'dbsc+jwt', jwk: key.jwk }, { jti: 'c' }), null],
      ['no jwk at registration', proof(key, 'c', { withJwk: false }), null],
      ['jwk of another key at registration', signJwt(key, { alg: 'ES256', typ: 'dbsc+jwt', jwk: other.jwk }, { jti: 'c' }), null],
      ['private key in the jwk', signJwt(key, { alg: 'ES256', typ: 'dbsc+jwt', jwk: { ...key.jwk, d: 'AAAA' } }, { jti: 'c' }), null],
      ['no jti', signJwt(key, { alg: 'ES256', typ: 'dbsc+jwt', jwk: key.jwk }, {}), null],
      ['a jwk at refresh', proof(key, 'c', { withJwk: true }), registered],
      ['another key at refresh', proof(other, 'c', { withJwk: false }), registered],
      ['RS256 at refresh of an ES256 key', makeKey('RS256').then((k) => proof(k, 'c', { withJwk: false })), registered],
      ['garbage', 'a.b', null],
    ];
    for (const [name, token, reg] of cases) {
      const result = await verifyProof(await token, reg);
      assert.equal(result.ok, false, name);
    }
  });

  it('reads inbound DBSC headers bare (as Chrome sends them) and as structured-field strings', () => {
    assert.equal(sfStringValue('abc.def.ghi'), 'abc.def.ghi');
    assert.equal(sfStringValue('"abc.def.ghi"'), 'abc.def.ghi');
    assert.equal(sfStringValue('"a\\"b";x=1'), 'a"b');
    assert.equal(sfStringValue(' "id-1" '), 'id-1');
    assert.equal(sfStringValue('"unterminated'), null);
    assert.equal(sfStringValue(''), null);
    assert.equal(sfStringValue(undefined), null);
  });

  it('challenges are single-use, kind-bound, expire, and at most MAX_CHALLENGES are kept', () => {
    let b = withChallenge(null, { c: 'r1', k: 'reg', u: 1000 }, 0);
    b = withChallenge(b, { c: 'f1', k: 'ref', u: 1000 }, 0);
    assert.equal(consumeChallenge(b, 'r1', 'ref', 0), null, 'a registration challenge does not refresh');
    assert.equal(consumeChallenge(b, 'f1', 'reg', 0), null, 'a refresh challenge does not register');
    assert.equal(consumeChallenge(b, 'r1', 'reg', 1000), null, 'expired');
    const used = consumeChallenge(b, 'r1', 'reg', 999)!;
    assert.deepEqual(
      used.rest.map((c) => c.c),
      ['f1'],
    );
    assert.equal(consumeChallenge({ ch: used.rest }, 'r1', 'reg', 999), null, 'used once');
    for (let i = 0; i < 20; i++) b = withChallenge(b, { c: `x${i}`, k: 'ref', u: 1000 }, 0);
    assert.equal(b.ch!.length, MAX_CHALLENGES);
    assert.equal(b.ch!.at(-1)!.c, 'x19');
  });
});

describe('deviceBound option', () => {
  const make = (deviceBound: unknown, store: unknown = new MemoryStore()) =>
    makeSessions({ store: store as MemoryStore, deviceBound: deviceBound as never }, () => new MemoryStore());

  it('is checked at createSessions', () => {
    assert.doesNotThrow(() => make({}));
    assert.doesNotThrow(() => make(true));
    assert.doesNotThrow(() => make({ path: '/auth/dbsc', cookieMaxAge: 300, cookieName: '__Host-bound' }));
    const bad: [unknown, string][] = [
      [{ path: 'dbsc' }, 'deviceBound.path'],
      [{ path: '/dbsc/' }, 'deviceBound.path'],
      [{ cookieMaxAge: 0 }, 'deviceBound.cookieMaxAge'],
      [{ cookieMaxAge: 1.5 }, 'deviceBound.cookieMaxAge'],
      [{ cookieMaxAge: 2e9 }, 'deviceBound.cookieMaxAge'],
      [{ cookieName: 'sessionid' }, 'deviceBound.cookieName'],
      [{ cookieName: 'a b' }, 'deviceBound.cookieName'],
      [{ refresh: '/x' }, 'deviceBound.refresh'],
      ['yes', 'deviceBound'],
    ];
    for (const [value, option] of bad) {
      assert.throws(
        () => make(value),
        (err: unknown) => err instanceof ConfigError && err.option === option && err.message.startsWith('sessionkit:'),
        JSON.stringify(value),
      );
    }
  });

  it('a path outside the session cookie’s path is refused', () => {
    assert.throws(
      () => makeSessions({ store: new MemoryStore(), cookie: { path: '/app' }, deviceBound: { path: '/dbsc' } }, () => new MemoryStore()),
      (err: unknown) => err instanceof ConfigError && err.option === 'deviceBound.path',
    );
    assert.doesNotThrow(() =>
      makeSessions({ store: new MemoryStore(), cookie: { path: '/app' }, deviceBound: { path: '/app/dbsc' } }, () => new MemoryStore()),
    );
  });

  it('CookieStore is refused with a ConfigError that says why', () => {
    assert.throws(
      () => make({}, new CookieStore({ secret: 'kq3JX9v2LpR7wZt0mN5cHs8dFy1gUb4e-secret-for-tests' })),
      (err: unknown) =>
        err instanceof ConfigError && err.option === 'deviceBound' && /CookieStore/.test(err.message) && /server/.test(err.message),
    );
  });

  it('off: the endpoints are not answered and login sends no registration header', async () => {
    const sessions = makeSessions({ store: new MemoryStore() }, () => new MemoryStore());
    assert.equal(deviceBoundRequest(sessions, new Request('http://x/.sessionkit/dbsc/register', { method: 'POST' })), null);
    const session = await sessions.load();
    await session.login('u1');
    const result = await sessions.commitResponse(session);
    assert.equal(result.headers, undefined);
  });

  it('on: only POST to the two paths is answered', () => {
    const sessions = make({});
    assert.equal(deviceBoundRequest(sessions, new Request('http://x/.sessionkit/dbsc/register')), null, 'GET');
    assert.equal(deviceBoundRequest(sessions, new Request('http://x/.sessionkit/dbsc/other', { method: 'POST' })), null);
    assert.equal(deviceBoundRequest(sessions, new Request('http://x/', { method: 'POST' })), null);
    assert.notEqual(deviceBoundRequest(sessions, new Request('http://x/.sessionkit/dbsc/refresh?x=1', { method: 'POST' })), null);
  });
});

describe('the endpoints, framework-free', () => {
  /** A signed-in session and the challenge of its registration header. */
  async function signedIn(sessions: ReturnType<typeof makeSessions>) {
    const session = await sessions.load();
    await session.login('u1');
    const result = await sessions.commitResponse(session);
    const header = result.headers!.find(([n]) => n === 'Secure-Session-Registration')![1];
    return { cookie: result.setCookie!.split(';')[0]!, challenge: /challenge="([^"]+)"/.exec(header)![1]!, id: session.id! };
  }
  const register = (url: string, cookie: string, jwt: string, more: Record<string, string> = {}) =>
    new Request(url, { method: 'POST', headers: { cookie, 'Secure-Session-Response': jwt, ...more } });

  it('scope.origin is the request’s own origin; X-Forwarded-Proto and -Host count only with trustProxy', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' };
    for (const trustProxy of [false, true]) {
      const store = new MemoryStore();
      const sessions = makeSessions({ store, deviceBound: true, trustProxy }, () => store);
      const { cookie, challenge } = await signedIn(sessions);
      const key = await makeKey('ES256');
      const jwt = await proof(key, challenge, { withJwk: true });
      const answer = await deviceBoundRequest(
        sessions,
        register('http://10.0.0.2:8080/.sessionkit/dbsc/register', cookie, jwt, forwarded),
      )!;
      assert.equal(answer.status, 200);
      const scope = JSON.parse(answer.body).scope;
      assert.deepEqual(scope, { origin: trustProxy ? 'https://shop.example' : 'http://10.0.0.2:8080', include_site: false });
    }
  });

  it('a store that cannot be reached answers 503, logged, never a rejection', async () => {
    class Down extends MemoryStore {
      override load(): Promise<never> {
        return Promise.reject(new Error('connection refused'));
      }
    }
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const store = new Down();
    const sessions = makeSessions({ store, deviceBound: true, logger }, () => store);
    const req = new Request('http://x/.sessionkit/dbsc/refresh', {
      method: 'POST',
      headers: { cookie: 'sessionid=abcdefghijklmnopqrstuvwxyz012345', 'Sec-Secure-Session-Id': 'x' },
    });
    const answer = await deviceBoundRequest(sessions, req)!;
    assert.equal(answer.status, 503);
    assert.ok(lines.some((l) => /cannot be reached/.test(l)));
  });

  it('registration keeps the session key; an authorization sent with the challenge must come back in the proof', async () => {
    const store = new MemoryStore();
    const sessions = makeSessions({ store, deviceBound: true }, () => store);
    const { cookie, id } = await signedIn(sessions);
    // a registration challenge that went out with an authorization parameter
    const session = await sessions.load(cookie);
    session.set('_session_device' as never, { ch: [{ c: 'chal-1', k: 'reg', u: Date.now() + 60_000, a: 'ac' }] } as never);
    await sessions.commit(session);
    const key = await makeKey('ES256');
    const url = 'http://x/.sessionkit/dbsc/register';
    const without = await deviceBoundRequest(sessions, register(url, cookie, await proof(key, 'chal-1', { withJwk: true })))!;
    assert.equal(without.status, 400, 'no authorization claim');
    const wrong = await deviceBoundRequest(
      sessions,
      register(url, cookie, await proof(key, 'chal-1', { withJwk: true, authorization: 'xx' })),
    )!;
    assert.equal(wrong.status, 400, 'another authorization');
    const right = await deviceBoundRequest(
      sessions,
      register(url, cookie, await proof(key, 'chal-1', { withJwk: true, authorization: 'ac' })),
    )!;
    assert.equal(right.status, 200);
    assert.equal(JSON.parse(right.body).session_identifier, id);
    const sessionCookie = right.headers.find(([n, v]) => n === 'Set-Cookie' && v.startsWith('sessionid='));
    assert.equal(sessionCookie?.[1].split(';')[0], cookie, 'the session key is kept');
  });
});

describe('fresh authentication', () => {
  it('authenticatedAt is set by login, renewed by a second login of the same user, not by cycleKey', async () => {
    let now = 1_000_000;
    const store = new MemoryStore();
    const sessions = makeSessions({ store, clock: () => now }, () => store);
    const fresh = await sessions.load();
    assert.equal(fresh.authenticatedAt, null);
    assert.equal(fresh.authenticatedWithin(300), false, 'never signed in');
    await fresh.login('u1');
    const cookie = (await sessions.commit(fresh))!.split(';')[0]!;
    now += 200_000;
    let session = await sessions.load(cookie);
    assert.equal(session.authenticatedAt?.getTime(), 1_000_000);
    assert.equal(session.authenticatedWithin(300), true);
    assert.equal(session.authenticatedWithin(100), false);
    await session.cycleKey();
    const cycled = (await sessions.commit(session))!.split(';')[0]!;
    now += 200_000;
    session = await sessions.load(cycled);
    assert.equal(session.authenticatedAt?.getTime(), 1_000_000, 'cycleKey does not renew it');
    assert.equal(session.authenticatedWithin(300), false, 'signed in 400 s ago');
    await session.login('u1');
    const again = (await sessions.commit(session))!.split(';')[0]!;
    session = await sessions.load(again);
    assert.equal(session.authenticatedAt?.getTime(), now, 'a second login renews it');
    assert.equal(session.authenticatedWithin(300), true);
    assert.throws(() => session.authenticatedWithin(-1), ConfigError);
    assert.throws(() => session.authenticatedWithin(Number.NaN), ConfigError);
  });

  it('a session never signed in but with an absoluteTimeout record has no authenticatedAt', async () => {
    const store = new MemoryStore();
    const sessions = makeSessions({ store, absoluteTimeout: 3600 }, () => store);
    const session = await sessions.load();
    session.set('cart', ['x']);
    const cookie = (await sessions.commit(session))!.split(';')[0]!;
    assert.equal((await sessions.load(cookie)).authenticatedAt, null);
  });
});
