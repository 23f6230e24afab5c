// Another process holding a SqliteStore file's write lock until it reads "release" on stdin.
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]!);
db.exec('BEGIN IMMEDIATE');
db.prepare("INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version) VALUES ('held-by-another-process', '{}', 0, 1)").run();
process.stdout.write('locked\n');
for await (const line of createInterface({ input: process.stdin })) if (line === 'release') break;
db.exec('COMMIT');
db.close();
