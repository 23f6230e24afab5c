import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CookieStore } from '../src/stores/cookie.js';
import { bundleForEdge } from './support/bundle.js';
import { installedProject, root } from './support/package.js';

const run = promisify(execFile);

/**
 * The core, MemoryStore, CookieStore and sessionkit/hono import no Node.js built-in: bundled as
 * for Workers/edge (every node: import an error), then run on Node.js with the built-ins hidden
 * at import (no process.getBuiltinModule, no Buffer), so hashing, signing and zlib take their
 * @noble/hashes, fflate and Web-API paths.
 */
describe('sessionkit without Node.js built-ins', () => {
  let project: string;
  let bundle: string;
  before(async () => {
    project = installedProject();
    copyFileSync(join(root, 'test', 'runtimes', 'app.mjs'), join(project, 'app.mjs'));
    bundle = await bundleForEdge(project, join(project, 'app.mjs'), 'edge-app.mjs');
  });

  it('bundles for a platform without node: modules', () => {
    assert.ok(bundle.endsWith('edge-app.mjs'));
  });

  it('runs the app with no Buffer and no process.getBuiltinModule; its signed cookies are Django-format tokens that the Node.js build reads', async () => {
    const script = join(project, 'no-builtins.mjs');
    writeFileSync(
      script,
      `const saved = globalThis.Buffer;
       delete globalThis.Buffer;
       process.getBuiltinModule = undefined;
       const { makeApp } = await import('./edge-app.mjs');
       globalThis.Buffer = saved; // Node.js's own Response needs it; sessionkit saw none at import
       const app = makeApp();
       const out = {};
       for (const store of ['memory', 'cookie']) {
         const first = await app.request('/' + store + '/count');
         const cookie = first.headers.get('set-cookie').split(';')[0];
         const second = await app.request('/' + store + '/count', { headers: { cookie } });
         out[store] = [await first.text(), await second.text(), cookie, second.headers.get('set-cookie').split(';')[0]];
       }
       console.log(JSON.stringify(out));`,
    );
    const { stdout } = await run(process.execPath, [script], { cwd: project });
    const out = JSON.parse(stdout) as Record<string, [string, string, string, string]>;
    assert.deepEqual(out.memory!.slice(0, 2), ['1', '2']);
    assert.match(out.memory![2], /^sessionid=[a-z0-9]{32}$/);
    assert.deepEqual(out.cookie!.slice(0, 2), ['1', '2']);
    // The last cookie, made by @noble/hashes and fflate, read by node:crypto and node:zlib.
    const store = new CookieStore({ secret: 'runtime-test-secret-0123456789-abcdefghij' });
    const token = decodeURIComponent(out.cookie![3].slice('sessionid='.length));
    assert.deepEqual(store.unseal(token, 1209600)?.data, { count: 2 });
  });
});
