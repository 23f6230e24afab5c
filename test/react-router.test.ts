import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { describeAdapter } from '../src/testing/adapter-suite.js';
import { linkPackage, run, start, type StartedApp, suiteApp } from './support/apps.js';

// examples/react-router copied with the suite's routes added (test/fixtures/react-router), in test/.apps/react-router
let dir = '';
const serve = (env: NodeJS.ProcessEnv) => start('react-router-serve', () => ['./build/server/index.js'], dir, env);

// One `react-router build` for the whole file; each server below is react-router-serve on it.
before(
  async () => {
    linkPackage();
    dir = suiteApp('react-router');
    await run('react-router', ['build'], dir, { SESSION_STORE: 'memory:' });
  },
  { timeout: 240_000 },
);

describeAdapter('React Router 7 middleware (sessionkit/react-router), built app on react-router-serve', {
  frameworkVary: true, // react-router-serve compresses: Vary: Accept-Encoding on every response
  async serve(harness) {
    const app = await serve({ SESSIONKIT_HARNESS: harness });
    return { url: `${app.url}/suite`, close: app.close };
  },
});

describe('examples/react-router (react-router-serve)', () => {
  let app!: StartedApp;
  before(async () => {
    app = await serve({ SESSION_STORE: 'memory:' });
  });
  after(() => app.close());

  const countIn = (html: string) => Number(/<output>(\d+)<\/output>/.exec(html)?.[1]);
  const sessionCookie = (res: Response) => res.headers.getSetCookie().find((c) => c.startsWith('sessionid='));

  it('middleware: the action counts and flashes, committed after it; the loader shows the flash once', async () => {
    const first = await fetch(app.url);
    assert.equal(sessionCookie(first), undefined);
    assert.equal(countIn(await first.text()), 0);
    let cookie = '';
    const post = () =>
      fetch(`${app.url}/?index`, { method: 'POST', body: new URLSearchParams(), headers: cookie ? { cookie } : {}, redirect: 'manual' });
    const posted = await post();
    assert.equal(posted.status, 302);
    cookie = sessionCookie(posted)!.split(';')[0]!;
    assert.match(cookie, /^sessionid=[a-z0-9]{32}$/);
    assert.match(posted.headers.get('vary') ?? '', /Cookie/);
    await post();
    const shown = await (await fetch(app.url, { headers: { cookie } })).text();
    assert.equal(countIn(shown), 2);
    assert.match(shown, /Counted to 2\./);
    assert.doesNotMatch(await (await fetch(app.url, { headers: { cookie } })).text(), /Counted to/, 'a flash is shown once');
  });

  it('csrfProtection (React Router middleware): a POST from another site is refused before the action; its own site passes', async () => {
    const action = (headers: Record<string, string>) =>
      fetch(`${app.url}/?index`, { method: 'POST', body: new URLSearchParams(), headers, redirect: 'manual' });
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }] as Record<string, string>[]) {
      const refused = await action(headers);
      assert.equal(refused.status, 403, JSON.stringify(headers));
      assert.match(await refused.text(), /^Forbidden: /);
      assert.equal(sessionCookie(refused), undefined, 'the action did not run');
    }
    // A foreign Origin: React Router's own origin check answers 400 before any middleware runs.
    for (const headers of [{ origin: 'https://evil.example' }, { origin: 'null' }] as Record<string, string>[]) {
      const refused = await action(headers);
      assert.ok(refused.status === 400 || refused.status === 403, `${JSON.stringify(headers)}: ${refused.status}`);
      assert.equal(sessionCookie(refused), undefined, 'the action did not run');
    }
    for (const headers of [{ 'sec-fetch-site': 'same-origin' }, { origin: app.url }] as Record<string, string>[]) {
      const passed = await action(headers);
      assert.equal(passed.status, 302, JSON.stringify(headers));
      assert.ok(sessionCookie(passed), 'the action ran');
    }
  });

  it('sessionStorage: code written for createSessionStorage works unchanged, lazily saved, flash read once', async () => {
    const set = await fetch(`${app.url}/theme`, { method: 'POST', body: new URLSearchParams({ theme: 'dark' }), redirect: 'manual' });
    const cookie = sessionCookie(set)!.split(';')[0]!;
    assert.match(cookie, /^sessionid=[a-z0-9]{32}$/);
    const read = await fetch(`${app.url}/theme`, { headers: { cookie } });
    assert.deepEqual(await read.json(), { theme: 'dark', notice: 'Theme set to dark.' });
    assert.equal(sessionCookie(read)?.split(';')[0], cookie, 'reading the flash changed the session: saved under the same key');
    const again = await fetch(`${app.url}/theme`, { headers: { cookie } });
    assert.deepEqual(await again.json(), { theme: 'dark', notice: null });
    const resent = sessionCookie(again) ?? '';
    assert.equal(resent.split(';')[0], cookie, 'nothing changed: the same cookie re-sent, never an empty Set-Cookie');
    assert.match(resent, /; Max-Age=\d+;/);
    assert.ok(!again.headers.getSetCookie().includes(''), 'no empty Set-Cookie header');
    assert.match(again.headers.get('vary') ?? '', /Cookie/, 'the session was read: Vary: Cookie');
  });

  it('sessionStorage: login() on the drop-in session binds the user; session.id is the public id, never the key', async () => {
    const user = `u${Date.now()}`;
    const signedIn = await fetch(`${app.url}/drop-in?user=${user}`, { method: 'POST', redirect: 'manual' });
    const body = (await signedIn.json()) as { id: string; userId: string };
    assert.equal(body.userId, user);
    const cookie = sessionCookie(signedIn)!.split(';')[0]!;
    const key = cookie.slice('sessionid='.length);
    assert.match(body.id, /^[0-9a-f]{64}$/);
    assert.equal(body.id, createHash('sha256').update(key).digest('hex'), 'the SHA-256 digest of the key');
    const read = await fetch(`${app.url}/drop-in`, { headers: { cookie } });
    assert.deepEqual(await read.json(), { id: body.id, theme: null, userId: user });
    assert.equal(sessionCookie(read)?.split(';')[0], cookie);
  });
});
