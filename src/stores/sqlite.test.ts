import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey } from '../core/keys.js';
import { describeStore } from '../testing/store-suite.js';
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
