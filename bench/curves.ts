/**
 * Cost as the work grows, on node:http + sessionkit (one server pinned to core 0, wrk on core 1):
 * per-request server CPU and p99 latency against the session's size, against the number of
 * sessions in the store, and, for parallel requests on one session, the conflicts and retries.
 * Writes docs/bench/*.svg and returns a Markdown summary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createClient } from 'redis';
import { cpuMicros, median } from './lib/proc.js';
import { type Server, startServer, visitorCookies } from './lib/server.js';
import { linePlot, type Series } from './lib/svg.js';
import { cookieFile, ensureWrk, wrk } from './lib/wrk.js';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis, stopAll } from '../test/support/redis.js';

export interface CurvesOptions {
  quick: boolean;
  seconds: number;
  rounds: number;
  outDir: string;
  only: string | null;
}

interface Point {
  cpu: number;
  p99: number;
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
}

async function point(server: Server, path: string, cookies: string, o: CurvesOptions, connections = 32): Promise<Point> {
  const rs: Point[] = [];
  for (let i = 0; i < o.rounds; i++) {
    const c0 = cpuMicros(server.pid);
    const r = await wrk({ url: server.base, path, cookies, seconds: o.seconds, connections });
    rs.push({ ...r, cpu: (cpuMicros(server.pid) - c0) / Math.max(1, r.requests) });
  }
  return {
    cpu: median(rs.map((r) => r.cpu)),
    p99: median(rs.map((r) => r.p99)),
    rps: median(rs.map((r) => r.rps)),
    requests: rs.reduce((n, r) => n + r.requests, 0),
    non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
    errors: rs.reduce((n, r) => n + r.errors, 0),
  };
}

const sk = (env: Record<string, string>) =>
  startServer({ framework: 'node', env: { BENCH_IMPL: 'sessionkit', BENCH_STORE: 'memory', ...env } });

function plot(o: CurvesOptions, file: string, title: string, xLabel: string, yLabel: string, series: Series[], logX = true) {
  writeFileSync(join(o.outDir, file), linePlot({ title, xLabel, yLabel, series, logX }));
}

/** Session size: /read (a number, the rest parsed), /readblob (the big value handed out, unchanged), /count (a write: all re-encoded). */
async function sessionSize(o: CurvesOptions, md: string[]): Promise<void> {
  const sizes = o.quick ? [100, 10_000, 100_000] : [100, 300, 1000, 3000, 10_000, 30_000, 100_000];
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-curve-'));
  const cpu: Series[] = [];
  const p99: Series[] = [];
  md.push(
    '### Session size',
    '',
    '| store | route | ' + sizes.map((s) => `${s} B`).join(' | ') + ' |',
    `|---|---|${sizes.map(() => '---:').join('|')}|`,
  );
  try {
    for (const [name, env] of [
      ['MemoryStore', {}],
      ['SqliteStore', { BENCH_STORE_URL: `sqlite:${join(dir, 's.sqlite3')}` }],
    ] as const) {
      const server = await sk(env);
      try {
        const byRoute = new Map<string, Point[]>();
        for (const bytes of sizes) {
          const cookies = cookieFile(await visitorCookies(server.base, 64, `/fill?bytes=${bytes}`));
          for (const route of ['/read', '/readblob', '/count']) {
            const pt = await point(server, route, cookies, o);
            byRoute.set(route, [...(byRoute.get(route) ?? []), pt]);
            console.log(`curve session size ${name} ${route} ${bytes} B: ${pt.cpu.toFixed(1)} µs CPU/req, p99 ${pt.p99.toFixed(2)} ms`);
          }
        }
        for (const [route, pts] of byRoute) {
          cpu.push({ name: `${name} ${route}`, points: pts.map((p, i) => [sizes[i]!, p.cpu]) });
          p99.push({ name: `${name} ${route}`, points: pts.map((p, i) => [sizes[i]!, p.p99]) });
          md.push(`| ${name} | ${route} | ${pts.map((p) => `${p.cpu.toFixed(0)} µs, p99 ${p.p99.toFixed(1)} ms`).join(' | ')} |`);
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  md.push('');
  plot(o, 'session-size-cpu.svg', 'Server CPU per request vs session size', 'session data, bytes of JSON', 'µs CPU per request', cpu);
  plot(o, 'session-size-p99.svg', 'p99 latency vs session size (32 connections)', 'session data, bytes of JSON', 'p99 ms', p99);
}

const FILLER_EXPIRY = () => Date.now() + 14 * 86400_000;

/** Store size: filler sessions written straight into the store's table or keyspace, then /read and /count on 256 real ones. */
async function storeSize(o: CurvesOptions, md: string[]): Promise<void> {
  const sizes = o.quick ? [1000, 100_000] : [1000, 10_000, 100_000, 1_000_000];
  const cpu: Series[] = [];
  const p99: Series[] = [];
  md.push(
    '### Store size',
    '',
    '| store | route | ' + sizes.map((s) => `${s.toLocaleString('en')} sessions`).join(' | ') + ' |',
    `|---|---|${sizes.map(() => '---:').join('|')}|`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-curve-'));
  const stores: { name: string; url: string; fill(from: number, to: number): Promise<void>; close(): Promise<void> }[] = [];
  try {
    const path = join(dir, 'size.sqlite3');
    let db: Database.Database | null = null;
    stores.push({
      name: 'SqliteStore',
      url: `sqlite:${path}`,
      async fill(from, to) {
        db ??= new Database(path, { timeout: 10_000 });
        const insert = db.prepare(
          `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
           INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version) SELECT printf('filler%058d', i), '{"count":1}', ?, 1 FROM n`,
        );
        for (let a = from; a < to; a += 100_000) insert.run(a, Math.min(to, a + 100_000), FILLER_EXPIRY());
      },
      async close() {
        db?.close();
      },
    });
    const redis = await startRedis();
    const rc = createClient({ url: redis.url });
    await rc.connect();
    stores.push({
      name: 'RedisStore',
      url: redis.url,
      async fill(from, to) {
        const script = `for i = tonumber(ARGV[1]), tonumber(ARGV[2]) - 1 do redis.call('SET', 'sessionkit:{filler' .. i .. '}', ARGV[3], 'PX', ARGV[4]) end return 1`;
        const value = `{"v":1,"e":${FILLER_EXPIRY()},"d":{"count":1}}`;
        for (let a = from; a < to; a += 50_000)
          await rc.eval(script, { arguments: [String(a), String(Math.min(to, a + 50_000)), value, String(14 * 86400_000)] });
      },
      async close() {
        await rc.quit();
      },
    });
    const postgres = await startPostgres();
    const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
    pool.on('error', () => {}); // an idle client told of the shutdown at the end
    stores.push({
      name: 'PostgresStore',
      url: postgres.url,
      async fill(from, to) {
        for (let a = from; a < to; a += 200_000)
          await pool.query(
            `INSERT INTO sessionkit_sessions (key_hash, data, expires_at, version)
             SELECT 'filler' || i, '{"count":1}', $3, 1 FROM generate_series($1::bigint, $2::bigint - 1) AS i`,
            [a, Math.min(to, a + 200_000), FILLER_EXPIRY()],
          );
        await pool.query('VACUUM ANALYZE sessionkit_sessions');
      },
      async close() {
        await pool.end();
        await postgres.destroy();
      },
    });
    for (const store of stores) {
      const server = await sk({ BENCH_STORE_URL: store.url });
      try {
        const cookies = cookieFile(await visitorCookies(server.base, 256)); // creates the table too
        const pts = new Map<string, Point[]>();
        let have = 256;
        for (const n of sizes) {
          const t0 = performance.now();
          await store.fill(have, n);
          have = n;
          console.log(`curve store size ${store.name}: filled to ${n} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
          for (const route of ['/read', '/count']) {
            const pt = await point(server, route, cookies, o);
            pts.set(route, [...(pts.get(route) ?? []), pt]);
            console.log(`curve store size ${store.name} ${route} ${n}: ${pt.cpu.toFixed(1)} µs CPU/req, p99 ${pt.p99.toFixed(2)} ms`);
          }
        }
        for (const [route, ps] of pts) {
          cpu.push({ name: `${store.name} ${route}`, points: ps.map((p, i) => [sizes[i]!, p.cpu]) });
          p99.push({ name: `${store.name} ${route}`, points: ps.map((p, i) => [sizes[i]!, p.p99]) });
          md.push(`| ${store.name} | ${route} | ${ps.map((p) => `${p.cpu.toFixed(0)} µs, p99 ${p.p99.toFixed(1)} ms`).join(' | ')} |`);
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    for (const s of stores) await s.close().catch(() => {});
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  md.push('');
  plot(o, 'store-size-cpu.svg', 'Server CPU per request vs sessions in the store', 'sessions in the store', 'µs CPU per request', cpu);
  plot(o, 'store-size-p99.svg', 'p99 latency vs sessions in the store', 'sessions in the store', 'p99 ms', p99);
}

/** N parallel requests on one session, each an atomic modify (+1): conflicts, retries, p99, and every +1 kept. */
async function parallel(o: CurvesOptions, md: string[]): Promise<void> {
  const ns = o.quick ? [1, 8, 64] : [1, 2, 4, 8, 16, 32, 64];
  const retries: Series[] = [];
  const p99: Series[] = [];
  md.push(
    '### Parallel requests on one session',
    '',
    'Each request adds 1 with `modify`; the store wrapper counts conditional updates and their conflicts. `retries/req` is conflicts per request; `lost` compares the final value with the 2xx answers.',
    '',
    '| store | parallel | req/s | retries/req | conflict rate | p99 ms | non-2xx | lost |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-curve-'));
  const redis = await startRedis();
  const postgres = await startPostgres();
  try {
    for (const [name, env] of [
      ['MemoryStore', {}],
      ['SqliteStore', { BENCH_STORE_URL: `sqlite:${join(dir, 'p.sqlite3')}` }],
      ['RedisStore', { BENCH_STORE_URL: redis.url }],
      ['PostgresStore', { BENCH_STORE_URL: postgres.url }],
    ] as const) {
      const server = await sk({ ...env, BENCH_COUNT_UPDATES: '1' });
      const rs: [number, number][] = [];
      const ps: [number, number][] = [];
      try {
        for (const n of ns) {
          const [cookie] = await visitorCookies(server.base, 1, '/incr');
          await server.send({ type: 'updates' });
          const c0 = cpuMicros(server.pid);
          const r = await wrk({ url: server.base, path: '/incr', cookies: cookieFile([cookie!]), seconds: o.seconds * 2, connections: n });
          const cpu = (cpuMicros(server.pid) - c0) / Math.max(1, r.requests);
          const u = await server.send({ type: 'updates' });
          const final = Number(await (await fetch(`${server.base}/n`, { headers: { cookie: cookie! } })).text());
          // wrk counts the answers it read in time; requests still in flight at the end (at most n) also landed
          const lost = Math.max(0, 1 + (r.requests - r.non2xx) - final);
          rs.push([n, u.conflicts / Math.max(1, r.requests)]);
          ps.push([n, r.p99]);
          md.push(
            `| ${name} | ${n} | ${r.rps.toFixed(0)} | ${(u.conflicts / Math.max(1, r.requests)).toFixed(2)} | ${((100 * u.conflicts) / Math.max(1, u.updates)).toFixed(0)}% | ${r.p99.toFixed(1)} | ${r.non2xx + r.errors} | ${lost} |`,
          );
          console.log(
            `curve parallel ${name} ×${n}: ${r.rps.toFixed(0)} req/s, ${cpu.toFixed(0)} µs CPU/req, ${u.updates} updates, ${u.conflicts} conflicts, p99 ${r.p99.toFixed(1)} ms, ${r.non2xx} non-2xx, lost ${lost}`,
          );
        }
      } finally {
        await server.stop();
      }
      retries.push({ name, points: rs });
      p99.push({ name, points: ps });
    }
  } finally {
    await stopAll();
    await postgres.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  md.push('');
  plot(
    o,
    'parallel-retries.svg',
    'Retries per request vs parallel requests on one session',
    'parallel requests on one session',
    'conflicts (retries) per request',
    retries,
  );
  plot(o, 'parallel-p99.svg', 'p99 latency vs parallel requests on one session', 'parallel requests on one session', 'p99 ms', p99);
}

export async function curves(o: CurvesOptions): Promise<string> {
  ensureWrk();
  mkdirSync(o.outDir, { recursive: true });
  const md: string[] = [];
  if (!o.only || o.only === 'session-size') await sessionSize(o, md);
  if (!o.only || o.only === 'store-size') await storeSize(o, md);
  if (!o.only || o.only === 'parallel') await parallel(o, md);
  const text = md.join('\n');
  console.log(`\n${text}`);
  return text;
}
