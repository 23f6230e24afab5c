import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { bundleForEdge } from './support/bundle.js';
import { bin, freshProject, installedProject, packedTarball, root } from './support/package.js';

const run = promisify(execFile);

/** What every consumer below prints: a session saved by MemoryStore and read back from its cookie. */
const ROUND_TRIP = `
  const sessions = createSessions({ store: new MemoryStore() });
  const first = await sessions.load(undefined);
  first.set('count', 1);
  const setCookie = await sessions.commit(first);
  const again = await sessions.load(setCookie.split(';')[0]);
  console.log(JSON.stringify({ count: again.get('count'), cookie: /^sessionid=[a-z0-9]{32};/.test(setCookie) }));
`;
const EXPECTED = '{"count":1,"cookie":true}';

const ENTRY_POINTS = ['sessionkit', 'sessionkit/node', 'sessionkit/hono', 'sessionkit/express', 'sessionkit/fastify', 'sessionkit/django'];

/** The Worker bundle's size, measured below. */
let workerBytes = 0;

describe('the packed package', () => {
  let project: string;
  before(() => {
    project = installedProject();
  });

  it('package.json exports every entry point with import and require conditions, as scripts/exports.mjs writes them', async () => {
    const generated = (await import(join(root, 'scripts', 'exports.mjs'))) as Record<'exportsField' | 'typesVersionsField', () => unknown>;
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.exports, generated.exportsField(), 'run `node scripts/exports.mjs` after changing its ENTRIES');
    assert.deepEqual(pkg.typesVersions, generated.typesVersionsField(), 'run `node scripts/exports.mjs` after changing its ENTRIES');
  });

  it('arethetypeswrong finds no problem in any entry point, for node10, node16 (CommonJS and ESM) and bundlers', async () => {
    const r = await run(bin('attw'), [packedTarball(), '--format', 'ascii'], { encoding: 'utf8' }).catch((e) => e);
    assert.equal(r.code ?? 0, 0, `attw reported problems:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /No problems found/);
  });

  it("require('sessionkit') works from CommonJS on a Node.js that cannot require ES modules", async () => {
    const code = `${ENTRY_POINTS.map((e) => `require(${JSON.stringify(e)});`).join('')}
      const { createSessions, MemoryStore } = require('sessionkit');
      (async () => { ${ROUND_TRIP} })();`;
    const { stdout } = await run(process.execPath, ['--no-experimental-require-module', '-e', code], { cwd: project });
    assert.equal(stdout.trim(), EXPECTED);
  });

  it('import works from an ES module, for sessionkit and sessionkit/testing', async () => {
    const code = `import { createSessions, MemoryStore, SessionError } from 'sessionkit';
      import * as testing from 'sessionkit/testing';
      if (typeof testing.describeStore !== 'function') throw new Error('sessionkit/testing');
      ${ROUND_TRIP}`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: project });
    assert.equal(stdout.trim(), EXPECTED);
  });

  it('loads under Jest 30 through require', async () => {
    const dir = join(project, 'jest-app');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'jest.config.json'),
      JSON.stringify({ testEnvironment: 'node', transform: {}, cacheDirectory: join(dir, '.jest') }),
    );
    writeFileSync(
      join(dir, 'session.test.js'),
      `const { createSessions, MemoryStore } = require('sessionkit');
       const { sessionMiddleware } = require('sessionkit/hono');
       test('a session round-trips', async () => {
         expect(typeof sessionMiddleware).toBe('function');
         const log = [];
         const console = { log: (line) => log.push(line) };
         ${ROUND_TRIP}
         expect(log).toEqual([${JSON.stringify(EXPECTED)}]);
       });`,
    );
    const r = await run(process.execPath, [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', '--rootDir', dir], {
      cwd: dir,
      encoding: 'utf8',
    }).catch((e) => e);
    assert.equal(r.code ?? 0, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /Tests:\s+1 passed, 1 total/);
  });

  for (const format of ['esm', 'cjs'] as const) {
    it(`bundled by esbuild as ${format}, the bundle loads and runs createSessions`, async () => {
      const entry = join(project, `entry-${format}.mjs`);
      writeFileSync(
        entry,
        `import { createSessions, MemoryStore } from 'sessionkit';
         import { sessionMiddleware } from 'sessionkit/hono';
         if (typeof sessionMiddleware !== 'function') throw new Error('sessionkit/hono');
         (async () => { ${ROUND_TRIP} })();`,
      );
      const outfile = join(project, `bundle-${format}.${format === 'esm' ? 'mjs' : 'cjs'}`);
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format,
        outfile,

        logLevel: 'error',
        absWorkingDir: project,
      });
      const { stdout } = await run(process.execPath, [outfile], { cwd: project });
      assert.equal(stdout.trim(), EXPECTED);
    });
  }

  it('a Worker bundle (esbuild) of Hono + sessionkit/hono + CookieStore holds no SQLite, Redis or PostgreSQL code, and runs', async (t) => {
    const entry = join(project, 'worker-entry.mjs');
    writeFileSync(
      entry,
      `import { Hono } from 'hono';
       import { createSessions, CookieStore } from 'sessionkit';
       import { sessionMiddleware } from 'sessionkit/hono';
       const sessions = createSessions({ store: new CookieStore({ secret: 'a worker secret of thirty-two chars' }) });
       const app = new Hono();
       app.use(sessionMiddleware(sessions));
       app.get('/', (c) => {
         const session = c.get('session');
         session.set('count', session.get('count', 0) + 1);
         return c.text(String(session.get('count')));
       });
       export default app;`,
    );
    const outfile = join(project, 'worker.mjs');
    const result = await build({
      entryPoints: [entry],
      absWorkingDir: project,
      bundle: true,
      minify: true,
      platform: 'neutral',
      format: 'esm',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['module', 'main'],
      target: 'es2022',
      outfile,
      metafile: true,
      logLevel: 'error',
    });
    // what the bundle holds: the inputs with bytes in the output (tree-shaken modules have none)
    const [output] = Object.values(result.metafile.outputs);
    const inputs = Object.entries(output!.inputs)
      .filter(([f, { bytesInOutput }]) => f.includes('node_modules/sessionkit/') && bytesInOutput > 0)
      .map(([f]) => f);
    assert.ok(
      inputs.some((f) => f.endsWith('/stores/cookie.js')),
      'the bundle holds CookieStore',
    );
    const stores = inputs.filter((f) => /\/stores\/(sqlite|redis|redis-client|postgres|cached|memory|url)\.js$|\/stores\/sql\//.test(f));
    assert.deepEqual(stores, [], 'no SQLite, Redis or PostgreSQL code in the bundle');
    const sha1 = Object.entries(output!.inputs).filter(
      ([f, { bytesInOutput }]) => f.includes('@noble/hashes') && f.endsWith('/legacy.js') && bytesInOutput > 0,
    );
    assert.deepEqual(sha1, [], "no SHA-1 (only RedisStore's script digests use it)");
    const bytes = statSync(outfile).size;
    workerBytes = bytes;
    t.diagnostic(`Worker bundle, Hono + sessionkit/hono + CookieStore: ${(bytes / 1024).toFixed(1)} KiB minified`);
    console.log(`Worker bundle, Hono + sessionkit/hono + CookieStore: ${(bytes / 1024).toFixed(1)} KiB minified`);
    const { default: app } = (await import(outfile)) as { default: { fetch(request: Request): Promise<Response> } };
    const first = await app.fetch(new Request('http://worker.test/'));
    assert.equal(await first.text(), '1');
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    assert.equal(await (await app.fetch(new Request('http://worker.test/', { headers: { cookie } }))).text(), '2');
  });

  it('that Worker bundle is at most 60 KiB minified', {
    todo: 'about 105 KiB: Hono 20 KiB, fflate 10, @noble/hashes 6, and sessionkit 69: device-bound sessions 12 and events/OpenTelemetry 6 that every engine carries, the engine, session, options, signing, accounts',
  }, () => {
    assert.ok(workerBytes > 0 && workerBytes <= 60 * 1024, `${(workerBytes / 1024).toFixed(1)} KiB`);
  });

  it('createSessions() without a store on a Worker asks for one, naming the stores that work there', async () => {
    const entry = join(project, 'worker-default.mjs');
    writeFileSync(
      entry,
      `import { createSessions } from 'sessionkit'; try { createSessions(); } catch (e) { globalThis.refused = e.message; }`,
    );
    const outfile = await bundleForEdge(project, entry, 'worker-default.bundle.mjs');
    await import(outfile);
    assert.match(
      (globalThis as { refused?: string }).refused ?? '',
      /^sessionkit: option store: this runtime has no default store.*CookieStore/,
    );
  });
});

/** Bytes of every file under `dir` (what `npm install` puts on disk, apparent size). */
function treeBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    total += st.isDirectory() ? treeBytes(path) : st.size;
  }
  return total;
}

describe('installed size', () => {
  it('npm install sessionkit, beside express-session and iron-session', (t) => {
    const dev = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
    const sizes: Record<string, number> = { sessionkit: treeBytes(join(freshProject('alone', 'commonjs', {}), 'node_modules')) };
    for (const peer of ['express-session', 'iron-session']) {
      const dir = mkdtempSync(join(tmpdir(), 'sessionkit-size-'));
      try {
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'size', private: true, dependencies: { [peer]: dev[peer] } }));
        execFileSync('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
          cwd: dir,
          stdio: 'ignore',
        });
        sizes[peer] = treeBytes(join(dir, 'node_modules'));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const lines = Object.entries(sizes).map(
      ([name, bytes]) => `${name.padEnd(16)} ${(bytes / 1024).toFixed(0).padStart(6)} KiB installed (with dependencies)`,
    );
    for (const line of lines) {
      t.diagnostic(line);
      console.log(line);
    }
    for (const bytes of Object.values(sizes)) assert.ok(bytes > 0);
  });
});
