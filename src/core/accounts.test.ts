import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../stores/memory.js';
import { CookieStore } from '../stores/cookie.js';
import { clientOf } from './accounts.js';
import { ConfigError } from './errors.js';
import { makeSessions } from './sessions.js';

const make = (options: Record<string, unknown>, store: unknown = new MemoryStore()) =>
  makeSessions({ store: store as MemoryStore, ...options }, () => new MemoryStore());

const nodeRequest = (headers: Record<string, string>, remoteAddress = '::ffff:10.0.0.9') => ({ headers, socket: { remoteAddress } });

describe('login records the client', () => {
  it('the address is the socket’s unless trustProxy says to read X-Forwarded-For', () => {
    const req = nodeRequest({ 'user-agent': 'curl/8', 'x-forwarded-for': '198.51.100.7, 10.0.0.2, 10.0.0.3' });
    assert.deepEqual(clientOf(req, false), { userAgent: 'curl/8', ip: '10.0.0.9' }, 'a client can claim any X-Forwarded-For');
    assert.equal(clientOf(req, true).ip, '198.51.100.7');
    assert.equal(clientOf(req, 1).ip, '10.0.0.3', 'one proxy: the entry it added');
    assert.equal(clientOf(req, 2).ip, '10.0.0.2');
    assert.equal(clientOf(req, 9).ip, '198.51.100.7', 'more proxies than entries: the first');
    assert.equal(clientOf(nodeRequest({}), true).ip, '10.0.0.9', 'no header: the socket');
  });

  it('a fetch Request has no socket: the address is unknown unless a trusted proxy names it', () => {
    const req = new Request('http://shop.example/', { headers: { 'user-agent': 'Firefox', 'x-forwarded-for': '203.0.113.5' } });
    assert.deepEqual(clientOf(req, false), { userAgent: 'Firefox', ip: null });
    assert.deepEqual(clientOf(req, true), { userAgent: 'Firefox', ip: '203.0.113.5' });
    assert.deepEqual(clientOf(undefined, true), { userAgent: null, ip: null });
    assert.equal(clientOf(nodeRequest({ 'user-agent': 'x'.repeat(2000) }), false).userAgent!.length, 512, 'bounded');
  });

  it('login(userId) keeps them in the session, and trustProxy is honoured', async () => {
    const sessions = make({ trustProxy: true });
    const s = await sessions.load(nodeRequest({ 'user-agent': 'Safari', 'x-forwarded-for': '198.51.100.1' }) as never);
    await s.login('7');
    await sessions.commit(s);
    const [listed] = await sessions.listUserSessions('7');
    assert.deepEqual([listed!.userAgent, listed!.ip], ['Safari', '198.51.100.1']);
  });
});

describe('account options are checked at createSessions', () => {
  it('bad values are a ConfigError naming the option', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ idleTimeout: 0 }, 'idleTimeout'],
      [{ idleTimeout: 1.5 }, 'idleTimeout'],
      [{ absoluteTimeout: -1 }, 'absoluteTimeout'],
      [{ touchInterval: -1 }, 'touchInterval'],
      [{ idleTimeout: 60, touchInterval: 60 }, 'touchInterval'],
      [{ maxSessionsPerUser: 0 }, 'maxSessionsPerUser'],
      [{ trustProxy: 'yes' }, 'trustProxy'],
      [{ trustProxy: 0 }, 'trustProxy'],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => make(options),
        (err: unknown) => err instanceof ConfigError && err.option === option && /^sessionkit: /.test(err.message),
        JSON.stringify(options),
      );
    }
    assert.doesNotThrow(() => make({ idleTimeout: 1800, absoluteTimeout: 43200, touchInterval: 0, maxSessionsPerUser: 5, trustProxy: 2 }));
  });

  it('the cookie store refuses what needs the server, saying why', () => {
    const cookies = new CookieStore({ secret: 'a-long-enough-secret-for-the-cookie-store-tests-0123456789' });
    for (const option of ['idleTimeout', 'absoluteTimeout', 'maxSessionsPerUser']) {
      assert.throws(
        () => make({ [option]: 600 }, cookies),
        (err: unknown) => err instanceof ConfigError && err.option === option && /signed cookie/.test(err.message),
      );
    }
  });
});
