// The demo's two device-bound features, in process with an injected clock: /devices shows which
// sessions are bound to their device, and "Sign out everywhere else" asks for the password again
// when the sign-in is older than five minutes.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DbscClient } from './support/dbsc-client.js';
import { ensureBuilt } from './support/demo.js';

/** A browser on the demo: cookies (through DbscClient), the page's CSRF token, form posts. */
class Browser extends DbscClient {
  csrf: string | null = null;
  async page(path: string): Promise<string> {
    const text = await (await this.fetch(path)).text();
    const token = /name="csrf_token" value="([^"]+)"/.exec(text);
    if (token) this.csrf = token[1]!;
    return text;
  }
  post(path: string, form: Record<string, string>): Promise<Response> {
    const body = new URLSearchParams(this.csrf ? { ...form, csrf_token: this.csrf } : form).toString();
    return this.fetch(path, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  async signIn(user: string, password: string): Promise<void> {
    await this.page('/login');
    assert.equal((await this.post('/login', { username: user, password })).status, 303);
  }
}

describe('demo: device-bound sessions and fresh authentication', () => {
  let now = Date.parse('2026-06-01T12:00:00Z');
  let server: Server;
  let base: string;
  before(async () => {
    ensureBuilt();
    const { createSessions, MemoryStore } = await import('sessionkit');
    const { createApp } = await import('../demo/app.js');
    const sessions = createSessions({ store: new MemoryStore(), clock: () => now, deviceBound: true });
    server = createApp(sessions as never).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('/devices marks the session bound to its device, and only that one', async () => {
    const chrome = new Browser(base);
    await chrome.signIn('alice', 'wonderland');
    assert.ok(chrome.registration, 'the sign-in response asks the browser to register a key');
    assert.equal((await chrome.register()).status, 200);
    const other = new Browser(base); // a browser without DBSC
    await other.signIn('alice', 'wonderland');
    const page = await chrome.page('/devices');
    assert.equal((page.match(/Bound to its device/g) ?? []).length, 1, page);
    assert.match(page, /This device<\/span> <span class="badge bound"/, 'the bound one is this one');
  });

  it('"Sign out everywhere else" asks for the password again after five minutes, and only then', async () => {
    const here = new Browser(base);
    const there = new Browser(base);
    await here.signIn('bob', 'builder');
    await there.signIn('bob', 'builder');
    assert.equal((await here.register()).status, 200);

    now += 301_000;
    await here.page('/devices');
    const asked = await here.post('/devices/revoke-others', {});
    assert.equal(asked.status, 200);
    const prompt = await asked.text();
    assert.match(prompt, /Enter your password again/);
    assert.match(prompt, /name="password" type="password"/);
    assert.match(await there.page('/'), /Welcome, Bob/, 'nothing signed out yet');

    here.csrf = /name="csrf_token" value="([^"]+)"/.exec(prompt)?.[1] ?? here.csrf;
    const wrong = await here.post('/devices/revoke-others', { password: 'nope' });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /Wrong password/);
    assert.match(await there.page('/'), /Welcome, Bob/);

    const right = await here.post('/devices/revoke-others', { password: 'builder' });
    assert.equal(right.status, 303);
    assert.match(await here.page('/devices'), /Signed out 1 other device/);
    assert.doesNotMatch(await there.page('/'), /Welcome, Bob/, 'the other browser is signed out');
    assert.match(await here.page('/'), /Welcome, Bob/, 'this one stays signed in, still bound to its device');

    // The password renewed the sign-in: within five minutes no prompt.
    const third = new Browser(base);
    await third.signIn('bob', 'builder');
    now += 60_000;
    await here.page('/devices');
    assert.equal((await here.post('/devices/revoke-others', {})).status, 303);
    assert.doesNotMatch(await third.page('/'), /Welcome, Bob/);
  });
});
