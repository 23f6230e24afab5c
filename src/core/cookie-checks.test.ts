// The cookie checks of createSessions (prefixes, Partitioned, public-suffix domains) and the
// 4096-byte cap on the session cookie at commit.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError, createSessions, CookieStore, MemoryStore, SessionDataError } from '../index.js';

const make = (cookie: Record<string, unknown>) => createSessions({ store: new MemoryStore(), cookie } as never);
const refused = (cookie: Record<string, unknown>, option: RegExp) =>
  assert.throws(
    () => make(cookie),
    (err: unknown) => err instanceof ConfigError && err.message.startsWith('sessionkit:') && option.test(err.message),
    JSON.stringify(cookie),
  );

describe('cookie options checked at createSessions', () => {
  it('__Host- needs secure, path "/" and no domain, whatever the case of the prefix', () => {
    for (const name of ['__Host-id', '__host-id', '__HOST-id']) {
      refused({ name }, /cookie\.secure/);
      refused({ name, secure: true, domain: 'example.com' }, /cookie\.domain/);
      refused({ name, secure: true, path: '/app' }, /cookie\.path/);
      assert.doesNotThrow(() => make({ name, secure: true }));
    }
  });

  it('__Secure- needs secure; __Http- needs secure and httpOnly; __Host-Http- needs both sets', () => {
    for (const name of ['__Secure-id', '__secure-id']) {
      refused({ name }, /cookie\.secure/);
      assert.doesNotThrow(() => make({ name, secure: true, domain: '.example.com', path: '/app' }));
    }
    for (const name of ['__Http-id', '__http-ID']) {
      refused({ name, httpOnly: true }, /cookie\.secure/);
      refused({ name, secure: true, httpOnly: false }, /cookie\.httpOnly/);
      assert.doesNotThrow(() => make({ name, secure: true }));
    }
    for (const name of ['__Host-Http-id', '__host-http-id']) {
      refused({ name }, /cookie\.secure/);
      refused({ name, secure: true, httpOnly: false }, /cookie\.httpOnly/);
      refused({ name, secure: true, domain: 'example.com' }, /cookie\.domain/);
      refused({ name, secure: true, path: '/app' }, /cookie\.path/);
      assert.doesNotThrow(() => make({ name, secure: true }));
    }
  });

  it('partitioned needs secure and emits Partitioned', async () => {
    refused({ partitioned: true }, /cookie\.partitioned/);
    const sessions = createSessions({ store: new MemoryStore(), cookie: { partitioned: true, secure: true } });
    const s = await sessions.load();
    s.set('a', 1);
    assert.match((await sessions.commit(s))!, /; Secure; Partitioned; SameSite=Lax$/);
  });

  it('a public-suffix domain is refused, from the Public Suffix List (ICANN and private sections)', () => {
    for (const domain of ['com', '.com', 'co.uk', '.co.uk', 'github.io', '.github.io', 'CO.UK'])
      refused({ domain }, /cookie\.domain.*public suffix/);
    for (const domain of ['example.com', '.example.com', 'shop.co.uk', 'me.github.io', 'localhost']) {
      assert.doesNotThrow(() => make({ domain }), domain);
    }
  });
});

describe('the 4096-byte cap on the session cookie', () => {
  it('a cookie-store session whose name=value exceeds 4096 bytes is a SessionDataError at commit, with the size, nothing sent', async () => {
    const secret = randomBytes(48).toString('base64');
    const store = new CookieStore({ secret });
    // the store counts its own cookieName ('sessionid'); the cap counts the name createSessions was given
    const name = `s${'x'.repeat(199)}`;
    const sessions = createSessions({ store, cookie: { name } });
    const random = randomBytes(4000).toString('base64url');
    let blob = '';
    for (let n = 2000; n < 4000; n += 10) {
      blob = random.slice(0, n);
      if (store.seal({ blob }).length > 4096 - name.length) break;
    }
    assert.ok(store.seal({ blob }).length <= 4096 - 'sessionid='.length, 'within what the store itself accepts');
    const s = await sessions.load();
    s.set('blob', blob);
    await assert.rejects(sessions.commit(s), (err: unknown) => {
      assert.ok(err instanceof SessionDataError);
      const size = Number(/would be (\d+) bytes/.exec((err as Error).message)?.[1]);
      assert.ok(size > 4096 && size <= 4096 + name.length, (err as Error).message);
      return true;
    });
    const fits = await sessions.load();
    fits.set('blob', 'small');
    assert.ok((await sessions.commit(fits))!.startsWith(`${name}=`));
  });
});
