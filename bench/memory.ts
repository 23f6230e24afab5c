/**
 * `npm run bench -- memory`: what sessions cost in memory and whether that stays bounded.
 * - bytes per stored session in each server-side store (the store's own accounting);
 * - bytes of the server process per live session (MemoryStore keeps them in the heap; the others should not);
 * - a MemoryStore whose sessions expire fast, under load, nobody calling clearExpired: rows stay bounded;
 * - clearExpired on a million expired rows: the longest event-loop stall (monitorEventLoopDelay and a 1 ms ticker).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createClient } from 'redis';
import { distModule, startServer } from './lib/server.js';
import { ensureWrk, wrk } from './lib/wrk.js';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis, stopAll } from '../test/support/redis.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};

const DATA = (i: number) => ({ count: i, user: { id: i, name: `user-${i}` }, cart: { tea: 1 } });

export async function memory(o: { quick: boolean }): Promise<string> {
  ensureWrk();
  const sk: Record<string, any> = await import(distModule('index.js'));
  const md: string[] = [];
  const n = o.quick ? 5000 : 50_000;
  const json = JSON.stringify(DATA(12345)).length;
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-mem-'));
  const redis = await startRedis();
  const postgres = await startPostgres();
  const logger = { warn() {}, error() {} };
  try {
    // ---- bytes per stored session ----
    md.push(
      '### Bytes per stored session',
      '',
      `${n.toLocaleString('en')} sessions of ${json} bytes of JSON each (a count, a small user object, a cart), written through the store's create; the store's own accounting before and after.`,
      '',
      '| store | measured as | bytes per session |',
      '|---|---|---:|',
    );
    const fill = async (store: any) => {
      const until = Date.now() + 3600_000;
      for (let i = 0; i < n; i += 100)
        await Promise.all(
          Array.from({ length: 100 }, (_, j) =>
            store.create({ key: randomBytes(16).toString('hex'), data: DATA(i + j), expiresAt: until }),
          ),
        );
    };
    {
      const before = heap();
      const store = new sk.MemoryStore({ logger });
      await fill(store);
      const per = (heap() - before) / n;
      md.push(`| MemoryStore | V8 heap growth after GC | ${per.toFixed(0)} |`);
      await store.close();
    }
    {
      const path = join(dir, 'bytes.sqlite3');
      const store = new sk.SqliteStore({ path, logger });
      await store.stats();
      const db = new Database(path);
      const size = () => {
        db.pragma('wal_checkpoint(TRUNCATE)');
        return (
          (Number(db.pragma('page_count', { simple: true })) - Number(db.pragma('freelist_count', { simple: true }))) *
          Number(db.pragma('page_size', { simple: true }))
        );
      };
      const before = size();
      await fill(store);
      md.push(`| SqliteStore | database pages in use (table + expiry index) | ${((size() - before) / n).toFixed(0)} |`);
      db.close();
      await store.close();
    }
    {
      const client = createClient({ url: redis.url });
      await client.connect();
      const used = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
      const store = new sk.RedisStore({ client, logger });
      const before = await used();
      await fill(store);
      md.push(
        `| RedisStore | Redis used_memory | ${((await used()) - before) / n > 0 ? (((await used()) - before) / n).toFixed(0) : '?'} |`,
      );
      await client.flushAll();
      await client.quit();
    }
    {
      const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
      pool.on('error', () => {});
      const store = new sk.PostgresStore({ pool, logger });
      await store.stats();
      const size = async () => {
        await pool.query('VACUUM sessionkit_sessions');
        return Number((await pool.query("SELECT pg_total_relation_size('sessionkit_sessions') AS s")).rows[0].s);
      };
      const before = await size();
      await fill(store);
      md.push(
        `| PostgresStore | pg_total_relation_size (heap, TOAST, primary key, expiry index) | ${(((await size()) - before) / n).toFixed(0)} |`,
      );
      await pool.query('TRUNCATE sessionkit_sessions');
      await pool.end();
    }
    md.push('');

    // ---- server process per live session ----
    md.push(
      '### Server process per live session',
      '',
      'node:http + sessionkit, `/count` without a cookie for a few seconds (every request makes a new session); heap and RSS after a full GC, before and after, divided by the sessions made.',
      '',
      '| store | sessions made | heap bytes per session | RSS bytes per session |',
      '|---|---:|---:|---:|',
    );
    for (const [name, env] of [
      ['MemoryStore', {}],
      ['SqliteStore', { BENCH_STORE_URL: `sqlite:${join(dir, 'live.sqlite3')}` }],
      ['RedisStore', { BENCH_STORE_URL: redis.url }],
    ] as const) {
      const server = await startServer({ framework: 'node', env: { BENCH_IMPL: 'sessionkit', BENCH_STORE: 'memory', ...env } });
      try {
        await wrk({ url: server.base, path: '/count', cookies: '', seconds: 1, connections: 16 });
        const before = await server.mem();
        const r = await wrk({ url: server.base, path: '/count', cookies: '', seconds: o.quick ? 2 : 6, connections: 16 });
        const after = await server.mem();
        const made = r.requests - r.non2xx;
        md.push(
          `| ${name} | ${made} | ${((after.heapUsed - before.heapUsed) / made).toFixed(0)} | ${((after.rss - before.rss) / made).toFixed(0)} |`,
        );
      } finally {
        await server.stop();
      }
    }
    md.push('');

    // ---- MemoryStore eviction under load ----
    {
      const server = await startServer({ framework: 'node', env: { BENCH_IMPL: 'sessionkit', BENCH_STORE: 'memory', BENCH_MAX_AGE: '2' } });
      const rows: string[] = [];
      let made = 0;
      try {
        for (let round = 0; round < (o.quick ? 3 : 6); round++) {
          const r = await wrk({ url: server.base, path: '/count', cookies: '', seconds: 2, connections: 16 });
          made += r.requests - r.non2xx;
          const s = await server.send({ type: 'storeStats' });
          rows.push(`${s.count}`);
        }
      } finally {
        await server.stop();
      }
      md.push(
        '### MemoryStore eviction under load',
        '',
        `Sessions living 2 s (cookie.maxAge 2), new visitors for ${rows.length} × 2 s (${made.toLocaleString('en')} sessions made), nobody calling clearExpired: rows held after each 2 s: ${rows.join(', ')}.`,
        '',
      );
    }

    // ---- clearExpired on a million rows ----
    const rowsN = o.quick ? 100_000 : 1_000_000;
    md.push(
      `### clearExpired on ${rowsN.toLocaleString('en')} expired rows`,
      '',
      'In the process that calls it: the longest event-loop stall while it runs (a 1 ms ticker; monitorEventLoopDelay agrees within its 10 ms resolution) and the whole run.',
      '',
      '| store | removed | took | longest stall (1 ms ticker) | max delay (monitorEventLoopDelay) | longest gap of the same ticker over 3 s with nothing to do |',
      '|---|---:|---:|---:|---:|---:|',
    );
    /** A 1 ms ticker; `stop()` gives the longest gap between two of its runs (or since the last one). */
    const gapTicker = () => {
      let last = performance.now();
      let worst = 0;
      const ticker = setInterval(() => {
        const t = performance.now();
        worst = Math.max(worst, t - last);
        last = t;
      }, 1);
      return {
        stop: () => {
          clearInterval(ticker);
          return Math.max(worst, performance.now() - last);
        },
      };
    };
    /** The longest gap of a 1 ms ticker over `ms` with nothing else running: what the machine alone costs. */
    const idleGap = async (ms: number) => {
      const ticker = gapTicker();
      await new Promise((r) => setTimeout(r, ms));
      return ticker.stop();
    };
    const measureClear = async (name: string, store: any) => {
      const idle = await idleGap(3000);
      const h = monitorEventLoopDelay({ resolution: 10 });
      const ticker = gapTicker();
      h.enable();
      const t0 = performance.now();
      const removed = await store.clearExpired(Date.now());
      const took = performance.now() - t0;
      const worst = ticker.stop();
      h.disable();
      md.push(
        `| ${name} | ${removed.toLocaleString('en')} | ${took.toFixed(0)} ms | ${worst.toFixed(0)} ms | ${(h.max / 1e6).toFixed(0)} ms | ${idle.toFixed(0)} ms |`,
      );
      console.log(`memory: clearExpired ${name}: ${removed} rows in ${took.toFixed(0)} ms, longest stall ${worst.toFixed(0)} ms`);
    };
    {
      const store = new sk.MemoryStore({ logger });
      const past = Date.now() - 1000;
      for (let i = 0; i < rowsN; i++) await store.create({ key: `expired-${i}`, data: { i }, expiresAt: past, now: past - 1 });
      await measureClear('MemoryStore', store);
    }
    {
      const path = join(dir, 'clear.sqlite3');
      const store = new sk.SqliteStore({ path, logger });
      await store.stats();
      const db = new Database(path);
      const insert = db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
         INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version) SELECT printf('expired%057d', i), '{"count":1}', ?, 1 FROM n`,
      );
      for (let a = 0; a < rowsN; a += 100_000) insert.run(a, Math.min(rowsN, a + 100_000), Date.now() - 1000);
      db.close();
      await measureClear('SqliteStore', store);
      await store.close();
    }
    {
      const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
      pool.on('error', () => {});
      const store = new sk.PostgresStore({ pool, logger });
      await store.stats();
      await pool.query(
        `INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version) SELECT 'expired' || i, '{"count":1}', $2, 1 FROM generate_series(1, $1::bigint) AS i`,
        [rowsN, Date.now() - 1000],
      );
      await measureClear('PostgresStore', store);
      await pool.end();
    }
    md.push('');
  } finally {
    await stopAll();
    await postgres.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const text = md.join('\n');
  console.log(`\n${text}`);
  return text;
}
