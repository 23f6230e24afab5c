import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SqliteStore } from '../src/stores/sqlite.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

async function sessionkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', cli, ...args], {
      env: { ...process.env, SESSION_STORE: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('sessionkit CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-cli-'));
  const url = `sqlite:${join(dir, 's.sqlite3')}`;
  const live = 'a'.repeat(32);
  const dead = 'b'.repeat(32);

  before(async () => {
    const store = new SqliteStore({ path: join(dir, 's.sqlite3') });
    await store.create({ key: live, data: { user: 'alice', cart: ['apple'] }, expiresAt: Date.now() + 3600_000 });
    await store.create({ key: dead, data: { user: 'bob' }, expiresAt: Date.now() - 1000 });
    await store.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--help lists the commands', async () => {
    const r = await sessionkit('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /clearsessions/);
    assert.match(r.stdout, /inspect KEY/);
    assert.match(r.stdout, /stats/);
  });

  it('stats prints count, expired and bytes', async () => {
    const r = await sessionkit('stats', '--store', url);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'count: 2');
    assert.equal(lines[1], 'expired: 1');
    assert.match(lines[2]!, /^bytes: [1-9]\d*$/);
  });

  it('inspect prints one live session as JSON, and fails for an unknown or expired key', async () => {
    const r = await sessionkit('inspect', live, '--store', url);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { user: 'alice', cart: ['apple'] });
    const missing = await sessionkit('inspect', dead, '--store', url);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /^sessionkit: /);
  });

  it('clearsessions removes expired sessions and says how many', async () => {
    const r = await sessionkit('clearsessions', '--store', url);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'removed 1 expired session');
    assert.equal((await sessionkit('clearsessions', '--store', url)).stdout.trim(), 'removed 0 expired sessions');
    assert.match((await sessionkit('stats', '--store', url)).stdout, /count: 1\nexpired: 0/);
  });

  for (const [why, args] of [
    ['no command', ['--store', 'memory:']],
    ['an unknown command', ['frobnicate', '--store', 'memory:']],
    ['no store', ['stats']],
    ['a bad store URL', ['stats', '--store', 'mysql://localhost/db']],
    ['a store that cannot be opened', ['stats', '--store', 'sqlite:/etc/hostname/not-a-folder/s.sqlite3']],
    ['inspect without a key', ['inspect', '--store', 'memory:']],
  ] as const) {
    it(`${why}: one sessionkit: line on stderr, non-zero exit, no stack trace`, async () => {
      const r = await sessionkit(...args);
      assert.notEqual(r.code, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^sessionkit: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }
});
