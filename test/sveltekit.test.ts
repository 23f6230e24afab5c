import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { describeAdapter } from '../src/testing/adapter-suite.js';
import { linkPackage, run, start, type StartedApp, suiteApp } from './support/apps.js';

// examples/sveltekit copied with the suite's routes added (test/fixtures/sveltekit), in test/.apps/sveltekit
let dir = '';

// One `vite build` (adapter-node) for the whole file; each server below is `node build` on it.
before(
  async () => {
    linkPackage();
    dir = suiteApp('sveltekit');
    await run('vite', ['build'], dir, { SESSION_STORE: 'memory:' });
  },
  { timeout: 240_000 },
);

describeAdapter('SvelteKit 2 handle hook (sessionkit/sveltekit), built with adapter-node, run as node build', {
  async serve(harness) {
    const app = await start('node', () => ['build'], dir, { SESSIONKIT_HARNESS: harness });
    return { url: `${app.url}/suite`, close: app.close };
  },
});

describe('examples/sveltekit: load, form action and flash through event.locals.session (node build)', () => {
  let app!: StartedApp;
  before(async () => {
    app = await start('node', () => ['build'], dir, { SESSION_STORE: 'memory:' });
  });
  after(() => app.close());

  const countIn = (html: string) => Number(/<output>(\d+)<\/output>/.exec(html)?.[1]);

  it('the form action counts and flashes; the page shows the flash once', async () => {
    const first = await fetch(app.url);
    assert.deepEqual(first.headers.getSetCookie(), []);
    assert.equal(countIn(await first.text()), 0);
    const post = () =>
      fetch(app.url, {
        method: 'POST',
        body: new URLSearchParams(),
        headers: { origin: app.url, accept: 'text/html', ...(cookie ? { cookie } : {}) }, // as a browser's form post
        redirect: 'manual',
      });
    let cookie = '';
    const posted = await post();
    assert.equal(posted.status, 303);
    cookie = posted.headers.getSetCookie()[0]!.split(';')[0]!;
    assert.match(cookie, /^sessionid=[a-z0-9]{32}$/);
    await post();
    const shown = await (await fetch(app.url, { headers: { cookie } })).text();
    assert.equal(countIn(shown), 2);
    assert.match(shown, /Counted to 2\./);
    const again = await (await fetch(app.url, { headers: { cookie } })).text();
    assert.doesNotMatch(again, /Counted to/, 'a flash is shown once');
  });
});
