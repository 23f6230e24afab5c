import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { bin, installedProject, packedTarball, root } from './support/package.js';

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
});
