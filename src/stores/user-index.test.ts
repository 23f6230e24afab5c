// The SQL stores' user index: a table made by an older sessionkit gets its columns, and listing uses the index.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startPostgres, type RunningPostgres } from '../../test/support/postgres.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { makeSessions } from '../core/sessions.js';
import type { SessionStore } from '../core/store.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';

const OLD_TABLE = `CREATE TABLE sessionkit_sessions (key_hash TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER NOT NULL, version INTEGER NOT NULL)`;

/** A session written by the old schema, then a login through the migrated store, which lists it. */
async function oldRowSurvivesAndLoginIsListed(store: SessionStore, oldKey: string): Promise<void> {
  const sessions = makeSessions({ store }, () => store);
  const old = await sessions.load(`sessionid=${oldKey}`);
  assert.equal(old.get('cart'), 'mug', 'the row written before the upgrade still loads');
  await old.login('ada');
  await sessions.commit(old);
  const [listed, ...more] = await sessions.listUserSessions('ada');
  assert.equal(more.length, 0);
  assert.equal(listed!.id, old.id);
  assert.ok(listed!.lastSeenAt);
}

describe('SqliteStore user index', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-user-index-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a table made by an older sessionkit gets user_id and last_seen, and an index on user_id', async () => {
    const path = join(dir, 'old.sqlite3');
    const key = newSessionKey();
    const raw = new Database(path);
    raw.exec(OLD_TABLE);
    raw.prepare('INSERT INTO sessionkit_sessions VALUES (?, ?, ?, 1)').run(digestKey(key), '{"cart":"mug"}', Date.now() + 60_000);
    const store = new SqliteStore({ path });
    const columns = (raw.prepare("SELECT name FROM pragma_table_info('sessionkit_sessions')").all() as { name: string }[]).map(
      (c) => c.name,
    );
    assert.deepEqual(columns, ['key_hash', 'data', 'expires_at', 'version', 'user_id', 'last_seen']);
    const plan = raw
      .prepare('EXPLAIN QUERY PLAN SELECT key_hash FROM sessionkit_sessions WHERE user_id = ? AND expires_at > ?')
      .all('ada', 0);
    assert.match(JSON.stringify(plan), /USING INDEX sessionkit_sessions_user_id/, 'listing reads the index, not the table');
    await oldRowSurvivesAndLoginIsListed(store, key);
    await store.close();
    await new SqliteStore({ path }).close(); // a second open finds nothing to add
    raw.close();
  });
});

describe('PostgresStore user index', () => {
  let server: RunningPostgres;
  let pool: pg.Pool;
  before(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 3 });
    pool.on('error', () => {}); // idle connections end when the server stops
  });
  after(async () => {
    await pool?.end();
    await server?.stop();
  });

  it('schemaSql adds the columns to a table made by an older sessionkit (ADD COLUMN IF NOT EXISTS)', async () => {
    await pool.query(
      'CREATE TABLE old_sessions (key_hash text PRIMARY KEY, data text NOT NULL, expires_at bigint NOT NULL, version bigint NOT NULL)',
    );
    const key = newSessionKey();
    await pool.query('INSERT INTO old_sessions VALUES ($1, $2, $3, 1)', [digestKey(key), '{"cart":"mug"}', Date.now() + 60_000]);
    const store = new PostgresStore({ pool, table: 'old_sessions' });
    await store.stats(); // the first statement creates or upgrades the table
    const { rows } = await pool.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'old_sessions' ORDER BY ordinal_position",
    );
    assert.deepEqual(
      rows.map((r) => r.column_name),
      ['key_hash', 'data', 'expires_at', 'version', 'user_id', 'last_seen'],
    );
    const { rows: indexes } = await pool.query("SELECT indexname FROM pg_indexes WHERE tablename = 'old_sessions'");
    assert.ok(indexes.some((i) => i.indexname === 'old_sessions_user_id'));
    await oldRowSurvivesAndLoginIsListed(store, key);
    assert.match(PostgresStore.schemaSql(), /ADD COLUMN IF NOT EXISTS user_id text;/);
    await store.close();
  });
});
