/**
 * clearExpired on N expired SqliteStore rows (default 1,000,000), on disk (DIR, default the OS tmpdir):
 * the longest event-loop stall (1 ms ticker; monitorEventLoopDelay max), the run's length, and the stalls over 20 ms.
 * Rows as bench/memory.ts makes them (FILL=memory: one expiry, sequential keys) or as test/support/sqlite-fill.ts (FILL=random).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { watchEventLoop } from '../test/support/event-loop.js';
const sk: any = await import(process.env.SK ?? new URL('../dist/index.js', import.meta.url).href);
const rowsN = Number(process.env.N ?? 1_000_000);
const dir = mkdtempSync(join(process.env.DIR ?? tmpdir(), 'sessionkit-clear-'));
const path = join(dir, 'clear.sqlite3');
try {
  const store = new sk.SqliteStore({ path, logger: { warn() {}, error() {} } });
  await store.stats();
  const db = new Database(path);
  const now = Date.now();
  if ((process.env.FILL ?? 'memory') === 'memory') {
    const insert = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
       INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version) SELECT printf('expired%057d', i), '{"count":1}', ?, 1 FROM n`,
    );
    for (let a = 0; a < rowsN; a += 100_000) insert.run(a, Math.min(rowsN, a + 100_000), now - 1000);
  } else {
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version)
       SELECT lower(hex(randomblob(32))), '{"cart":["apple","pear"],"user":"alice","visits":12}', ? - 1 - i, 1 FROM n`,
    ).run(rowsN, now);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  console.log(`filled ${rowsN} rows, file ${(statSync(path).size / 1e6).toFixed(0)} MB`);
  const h = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  const t0 = performance.now();
  const stalls: [number, number][] = [];
  let worst = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    const gap = t - last;
    if (gap > 20) stalls.push([Math.round(t - t0), Math.round(gap)]);
    worst = Math.max(worst, gap);
    last = t;
  }, 1);
  h.enable();
  const watch = watchEventLoop();
  const removed = await store.clearExpired(now);
  const took = performance.now() - t0;
  worst = Math.max(worst, performance.now() - last);
  h.disable();
  clearInterval(ticker);
  const { heldMs, cpuMs } = watch.stop();
  console.log(
    `removed ${removed} in ${took.toFixed(0)} ms; longest stall ${worst.toFixed(1)} ms (1 ms ticker), monitorEventLoopDelay max ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms; less the waits for a CPU ${heldMs.toFixed(1)} ms, most CPU between two timer runs ${cpuMs.toFixed(1)} ms; ${stalls.length} stalls over 20 ms: ${stalls
      .slice(0, 30)
      .map(([at, g]) => `${g}@${at}`)
      .join(' ')}`,
  );
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
