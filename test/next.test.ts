import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeAdapter } from '../src/testing/adapter-suite.js';
import { nextProject, run, start, type StartedApp } from './support/apps.js';
import { assertOtherSitesRefused } from './support/csrf.js';

/*
 * examples/next copied into a fresh project that installed the packed tarball and Next.js from
 * npm, with no next.config at all: `next build` (which loads the routes, and so opens the default
 * SQLite store) then `next start`. The suite's routes are added by the test (test/fixtures/next).
 */
let dir = '';
before(
  async () => {
    dir = nextProject();
    await run(join(dir, 'node_modules', '.bin', 'next'), ['build'], dir);
  },
  { timeout: 300_000 },
);

const nextStart = (env: NodeJS.ProcessEnv) =>
  start(join(dir, 'node_modules', '.bin', 'next'), (port) => ['start', '-p', String(port), '-H', '127.0.0.1'], dir, env);

describeAdapter('Next.js 16 route handler (sessionkit/web) in a built app: next build && next start', {
  frameworkVary: true,
  async serve(harness) {
    const app = await nextStart({ SESSIONKIT_HARNESS: harness });
    return { url: `${app.url}/suite`, close: app.close };
  },
});

describe('examples/next: Server Component, Server Action and route handler (next start)', () => {
  let app!: StartedApp;
  let store = '';
  before(async () => {
    // SQLite in a temporary folder, as a deployment would keep it
    store = mkdtempSync(join(tmpdir(), 'sessionkit-next-'));
    const SESSION_STORE = `sqlite:${join(store, 'sessions.sqlite3')}`;
    app = await nextStart({ SESSION_STORE });
  });
  after(async () => {
    await app?.close();
    rmSync(store, { recursive: true, force: true });
  });

  const countIn = (html: string) => Number(/<output>(\d+)<\/output>/.exec(html)?.[1]);

  it('the Server Action counts through cookies(); the Server Component reads the session', async () => {
    const page = await fetch(app.url);
    assert.equal(page.headers.getSetCookie().length, 0, 'reading sets no cookie');
    const html = await page.text();
    assert.equal(countIn(html), 0);
    const action = /name="(\$ACTION_ID_[0-9a-f]+)"/.exec(html)?.[1];
    assert.ok(action, 'the form carries its Server Action id');
    const form = new FormData();
    form.set(action, '');
    const posted = await fetch(app.url, { method: 'POST', body: form, redirect: 'manual' });
    const setCookie = posted.headers.getSetCookie().find((c) => c.startsWith('sessionid='));
    assert.match(setCookie ?? '', /^sessionid=[a-z0-9]{32};/);
    for (const attribute of [/; Max-Age=1209600(;|$)/, /; Path=\/(;|$)/, /; Expires=/, /; HttpOnly(;|$)/, /; SameSite=Lax(;|$)/i]) {
      assert.match(setCookie!, attribute);
    }
    const cookie = setCookie!.split(';')[0]!;
    await fetch(app.url, { method: 'POST', body: form, headers: { cookie }, redirect: 'manual' });
    assert.equal(countIn(await (await fetch(app.url, { headers: { cookie } })).text()), 2);
  });

  it('the route handler counts, sets the cookie once and varies on Cookie', async () => {
    const first = await fetch(`${app.url}/api/count`, { method: 'POST' });
    assert.deepEqual(await first.json(), { count: 1 });
    assert.match(first.headers.get('vary') ?? '', /Cookie/);
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    const read = await fetch(`${app.url}/api/count`, { headers: { cookie } });
    assert.deepEqual(await read.json(), { count: 1 });
    assert.deepEqual(read.headers.getSetCookie(), []);
  });

  it('csrfProtection (route-handler wrapper): a POST from another site is refused before the handler; its own site passes', async () => {
    const post = (headers: Record<string, string>) => fetch(`${app.url}/api/count`, { method: 'POST', headers });
    await assertOtherSitesRefused(post, /^Forbidden: /, 'handler');
    for (const headers of [{ 'sec-fetch-site': 'same-origin' }, { origin: app.url }] as Record<string, string>[]) {
      const passed = await post(headers);
      assert.equal(passed.status, 200, JSON.stringify(headers));
      assert.deepEqual(await passed.json(), { count: 1 });
    }
  });
});

describe('Next.js with no config and the default store (SQLite at ./sessions.sqlite3, better-sqlite3 found at run time)', () => {
  let app!: StartedApp;
  before(async () => {
    rmSync(join(dir, 'sessions.sqlite3'), { force: true });
    app = await nextStart({});
  });
  after(() => app?.close());

  it('counts through the route handler on the default store', async () => {
    const first = await fetch(`${app.url}/api/count`, { method: 'POST' });
    assert.equal(first.status, 200, await first.clone().text());
    assert.deepEqual(await first.json(), { count: 1 });
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    assert.deepEqual(await (await fetch(`${app.url}/api/count`, { method: 'POST', headers: { cookie } })).json(), { count: 2 });
  });

  it('a login through sessionkit/next records the user agent and the address', async () => {
    const user = `u${Date.now()}`;
    const login = await fetch(`${app.url}/devices?user=${user}`, {
      method: 'POST',
      headers: { 'user-agent': 'Firefox/140 (sessionkit test)' },
    });
    assert.equal(login.status, 200, await login.clone().text());
    const { id } = (await login.json()) as { id: string };
    assert.match(login.headers.getSetCookie().join('\n'), /^sessionid=[a-z0-9]{32};/m);
    const devices = (await (await fetch(`${app.url}/devices?user=${user}`)).json()) as {
      id: string;
      userAgent: string | null;
      ip: string | null;
    }[];
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.id, id);
    assert.equal(devices[0]!.userAgent, 'Firefox/140 (sessionkit test)');
    assert.match(devices[0]!.ip ?? '', /^(127\.0\.0\.1|::1)$/);
  });
});
