import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freshProject } from './support/package.js';

/*
 * The default store's driver as users meet it: the packed tarball in fresh projects, installed as
 * npm does with install scripts not run (pnpm, and npm 11, skip them until approved), and
 * createSessions() with no store. The ConfigError must say what went wrong and the fix.
 */
const run = promisify(execFile);
const node = Number(process.versions.node.split('.')[0]);

/** What createSessions() throws (or 'ok'), in a child process: a driver may crash the process it loads in. */
async function defaultStoreIn(project: string): Promise<string> {
  const code = `try { require('sessionkit').createSessions({}); console.log('ok'); } catch (e) { console.log(e.message); }`;
  const { stdout } = await run(process.execPath, ['-e', code], { cwd: project, encoding: 'utf8' });
  return stdout.trim();
}

describe('the SQLite driver error names its cause (packed package, createSessions() without a store)', () => {
  it('better-sqlite3 not installed: says to install it, with @12 on Node.js 20', {
    skip: node >= 22 ? 'node:sqlite is built in from Node.js 22.5' : false,
  }, async () => {
    const message = await defaultStoreIn(freshProject('alone', 'commonjs', {}));
    assert.match(message, /^sessionkit: option driver: SqliteStore needs a SQLite driver/);
    assert.match(message, /better-sqlite3 is not installed: npm install better-sqlite3@12/);
  });

  it('better-sqlite3 installed but not built (install scripts skipped): says pnpm approve-builds', async () => {
    const message = await defaultStoreIn(freshProject('sqlite-unbuilt', 'commonjs', { 'better-sqlite3': '12.11.1' }));
    assert.match(message, /better-sqlite3 is installed but its native addon was not built/);
    assert.match(message, /pnpm approve-builds/);
  });

  it('better-sqlite3 13 on Node.js 20: refused before it is loaded (it would crash the process), says better-sqlite3@12', {
    skip: node >= 22 ? 'better-sqlite3 13 runs on this Node.js' : false,
  }, async () => {
    const message = await defaultStoreIn(freshProject('sqlite-13', 'commonjs', { 'better-sqlite3': '^13.0.0' }));
    assert.match(message, /better-sqlite3 13\.\d+\.\d+ needs Node\.js 22 or later and this is Node\.js 20: npm install better-sqlite3@12/);
  });
});
