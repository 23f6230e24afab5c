import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Adds `count` expired sessions to a SqliteStore's file in one statement (random 64-hex key
 * digests, expiries just before `now`), as a site that never ran clearsessions would have.
 */
export function fillExpired(path: string, count: number, now: number, table = 'sessionkit_sessions'): void {
  const db = new Database(path);
  try {
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO ${table} (key_hash, data, expires_at, version)
       SELECT lower(hex(randomblob(32))), '{"cart":["apple","pear"],"user":"alice","visits":12}', ? - 1 - i, 1 FROM n`,
    ).run(count, now);
  } finally {
    db.close();
  }
}

/** A folder for SQLite files on tmpfs where there is one (Linux's /dev/shm), so a busy shared disk does not time the tests. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}
