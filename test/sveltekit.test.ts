import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { describeAdapter } from '../src/testing/adapter-suite.js';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linkPackage, root, run, start, type StartedApp, suiteApp } from './support/apps.js';
import { assertOtherSitesRefused } from './support/csrf.js';
import { freshProject } from './support/package.js';
import { binaries, installRuntimes, supported } from './support/runtimes.js';

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

/** The example's own page, driven as a browser would: a form action counts and flashes, the load shows it once. */
function exampleFlow(name: string, serve: () => Promise<StartedApp>, options: { skip?: string | false } = {}): void {
  describe(name, options, () => {
    let app!: StartedApp;
    before(async () => {
      app = await serve();
    });
    after(() => app?.close());

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

    it('csrfProtection (a Handle in sequence): a POST from another site is refused before the action; its own site passes', async () => {
      // JSON bodies: SvelteKit's own origin check covers only form content types
      const post = (headers: Record<string, string>) =>
        fetch(app.url, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json', accept: 'text/html', ...headers },
          redirect: 'manual',
        });
      await assertOtherSitesRefused(post, /^Forbidden: this form was sent from another site/, 'action');
      const own = await post({ 'sec-fetch-site': 'same-origin', origin: app.url });
      assert.notEqual(own.status, 403);
      assert.doesNotMatch(await own.text(), /^Forbidden: this form/);
    });
  });
}

exampleFlow('examples/sveltekit: load, form action and flash through event.locals.session (node build)', () =>
  start('node', () => ['build'], dir, { SESSION_STORE: 'memory:' }),
);

/*
 * SvelteKit 3 (it needs Node.js 22.17): examples/sveltekit in a fresh project that installed the
 * packed tarball and Kit 3, with the changes Kit 3 asks of every app (its configuration in the
 * Vite plugin, no svelte.config.js, `$lib` as an alias, the generated tsconfig under `$app`),
 * built and run by Node.js 22.
 */
exampleFlow(
  'examples/sveltekit on SvelteKit 3 (packed package, Node.js 22): the same page, form action and flash',
  async () => {
    installRuntimes();
    const node22 = binaries.node22();
    const app = freshProject('sveltekit3-app', 'module', {
      '@sveltejs/kit': '3.2.0',
      '@sveltejs/adapter-node': '6.0.2',
      '@sveltejs/vite-plugin-svelte': '7.3.1',
      svelte: '5.57.3',
      vite: '8.3.8',
    });
    for (const name of ['src', 'build', '.svelte-kit', 'svelte.config.js']) rmSync(join(app, name), { recursive: true, force: true });
    cpSync(join(root, 'examples', 'sveltekit', 'src'), join(app, 'src'), { recursive: true });
    writeFileSync(
      join(app, 'vite.config.ts'),
      `import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';
export default defineConfig({ plugins: [sveltekit({ adapter: adapter(), alias: { $lib: 'src/lib' } })] });
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ extends: '$app/tsconfig', compilerOptions: { strict: true, moduleResolution: 'bundler' } }),
    );
    await run(node22, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], app, { SESSION_STORE: 'memory:' });
    return start(node22, () => ['build'], app, { SESSION_STORE: 'memory:' });
  },
  { skip: supported ? false : 'the Node.js 22 binary is taken for linux-x64 only' },
);
