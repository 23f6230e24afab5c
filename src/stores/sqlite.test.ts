import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { describeStore } from '../testing/store-suite.js';
import { fillExpired, scratchDir } from '../../test/support/sqlite-fill.js';
import { watchEventLoop } from '../../test/support/event-loop.js';
import { loadSqliteDriver } from './sql/sqlite.js';
import { SqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'sessionkit-sqlite-'));
const path = join(dir, 'sessions.sqlite3');

describeStore('SqliteStore', {
  setup(logger) {
    const store = new SqliteStore({ path, logger });
    // A second connection to the same file: what another process sees.
    const peer = new SqliteStore({ path, logger });
    const raw = new Database(path);
    return {
      store,
      peer,
      corrupt: async (key) => {
        raw.prepare('UPDATE sessionkit_sessions SET data = ? WHERE key_hash = ?').run('\u0000garbage', digestKey(key));
      },
      dumpAtRest: async () => JSON.stringify(raw.prepare('SELECT * FROM sessionkit_sessions').all()),
      close: async () => {
        raw.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describe('SqliteStore specifics', () => {
  it('creates the file, its folder, the table and an index on expiry', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sessionkit-sqlite-'));
    const file = join(d, 'nested', 'dir', 's.sqlite3');
    const store = new SqliteStore({ path: file });
    await store.close();
    const db = new Database(file);
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessionkit_sessions'").all() as {
      name: string;
    }[];
    assert.ok(indexes.some((i) => i.name.includes('expires_at')));
    assert.equal((db.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
    db.close();
    rmSync(d, { recursive: true, force: true });
  });

  it('rejects a table name that is not an identifier', () => {
    assert.throws(() => new SqliteStore({ path: ':memory:', table: 'x; DROP TABLE y' }), ConfigError);
  });

  it('a file that cannot be opened is StoreUnavailableError', () => {
    assert.throws(() => new SqliteStore({ path: '/etc/hostname/not-a-folder/s.sqlite3' }), StoreUnavailableError);
  });

  it('a closed database reports StoreUnavailableError, not a crash', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.close();
    await assert.rejects(store.load('a'.repeat(32)), StoreUnavailableError);
  });
});

describe('SqliteStore drivers', () => {
  const fail = () => {
    throw new Error('not on this runtime');
  };
  const none = { 'better-sqlite3': fail, 'node:sqlite': fail, 'bun:sqlite': fail };

  it('with no SQLite driver on the runtime, the store refuses with a ConfigError that says what to install', () => {
    assert.throws(
      () => loadSqliteDriver(undefined, none),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.option === 'driver' &&
        /npm install better-sqlite3/.test(e.message) &&
        /node:sqlite/.test(e.message) &&
        /bun:sqlite/.test(e.message),
    );
  });

  it('a driver the runtime lacks, or one sessionkit does not know, is a ConfigError at construction', () => {
    // This runtime is Node.js 20 with better-sqlite3 installed: no bun:sqlite here.
    assert.throws(
      () => new SqliteStore({ path: ':memory:', driver: 'bun:sqlite' }),
      (e: unknown) => e instanceof ConfigError && e.option === 'driver' && /bun:sqlite needs Bun/.test(e.message),
    );
    assert.throws(() => new SqliteStore({ path: ':memory:', driver: 'sqlite3' as never }), ConfigError);
    assert.equal(loadSqliteDriver().name, 'better-sqlite3', 'better-sqlite3 first on Node.js when it is installed');
  });
});

describe('SqliteStore clearExpired in batches', () => {
  it('clears 100,000 expired rows without holding the event loop for 50 ms at a time, and keeps the live ones', async (t) => {
    const d = scratchDir('sessionkit-sqlite-');
    const file = join(d, 's.sqlite3');
    const store = new SqliteStore({ path: file });
    const now = Date.now();
    const live = [newSessionKey(), newSessionKey()];
    for (const key of live) await store.create(key, { live: true }, now + 60_000, now);
    fillExpired(file, 100_000, now);
    const watch = watchEventLoop();
    const started = performance.now();
    const removed = await store.clearExpired(now);
    const took = performance.now() - started;
    const { heldMs, cpuMs, delayMs } = watch.stop();
    t.diagnostic(
      `removed ${removed} in ${took.toFixed(0)} ms; at most ${cpuMs.toFixed(1)} ms of CPU between two timer runs, held ${heldMs.toFixed(1)} ms (monitorEventLoopDelay max ${delayMs.toFixed(1)} ms)`,
    );
    assert.equal(removed, 100_000);
    assert.deepEqual((await store.stats(now)).count, 2);
    for (const key of live) assert.ok(await store.load(key, now));
    // Deleting is CPU work here (the file is on tmpfs): the CPU the loop spent between two timer
    // runs is what it held them up for, whatever else the machine is busy with.
    assert.ok(cpuMs < 50, `the event loop worked ${cpuMs.toFixed(1)} ms at once`);
    await store.close();
    rmSync(d, { recursive: true, force: true });
  });
});
