// Run by test/sqlite-runtimes.test.ts on another runtime (Node.js 22, Bun): SqliteStore on that
// runtime's own SQLite driver, and DjangoStore on a connection of that driver. Prints one JSON line.
import { DjangoStore } from '../../src/django/index.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import type { SessionStore } from '../../src/core/store.js';

const [dir, driver] = process.argv.slice(2) as [string, 'node:sqlite' | 'bun:sqlite'];
const now = Date.now();
const later = now + 60_000;

async function exercise(store: SessionStore): Promise<Record<string, unknown>> {
  const key = 'k'.repeat(32);
  const created = await store.create({ key, data: { cart: ['apple'] }, expiresAt: later, now });
  const loaded = await store.load(key, now);
  const updated = await store.update({ key, data: { cart: ['apple', 'pear'] }, expiresAt: later, expectedVersion: loaded!.version, now });
  const stale = await store.update({ key, data: { cart: [] }, expiresAt: later, expectedVersion: loaded!.version, now });
  const reloaded = await store.load(key, now);
  const taken = await store.create({ key, data: {}, expiresAt: later, now });
  await store.delete(key);
  const gone = await store.update({ key, data: { cart: [] }, expiresAt: later, expectedVersion: 1, now });
  await store.create({ key: 'e'.repeat(32), data: { old: true }, expiresAt: now - 1000, now });
  await store.create({ key: 'l'.repeat(32), data: { live: true }, expiresAt: later, now });
  const cleared = await store.clearExpired(now);
  const stats = await store.stats(now);
  const exists = [await store.exists('l'.repeat(32)), await store.exists(key)];
  await store.close();
  return {
    created: created !== null,
    loaded: loaded?.data,
    updated: updated.status,
    stale: stale.status,
    reloaded: reloaded?.data,
    taken,
    gone: gone.status,
    cleared,
    count: stats.count,
    exists,
  };
}

const sqlite = await exercise(new SqliteStore({ path: `${dir}/sessions.sqlite3`, driver }));
// With no driver named, the best one that works here (a better-sqlite3 built for another runtime does not).
const best = await exercise(new SqliteStore({ path: `${dir}/best.sqlite3` }));

// Django's table, as its migration makes it, on a connection of this runtime's driver.
const mod = (await import(driver as string)) as Record<string, new (path: string) => { exec(sql: string): void; close(): void }>;
const Connection = (mod.DatabaseSync ?? mod.Database)!;
const db = new Connection(`${dir}/django.sqlite3`);
db.exec(`CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL);
CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");`);
const django = await exercise(new DjangoStore({ db: db as never, secret: 'runtime-check-secret' }));
db.close();

console.log(JSON.stringify({ sqlite, best, django }));
