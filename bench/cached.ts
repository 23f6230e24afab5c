/**
 * CachedStore (RedisStore cache over PostgresStore) under wrk: requests/s with the cache up, with
 * the cache frozen (redis-server SIGSTOP), and after SIGCONT; PostgresStore alone for comparison.
 *
 *   tsx bench/cached.ts [root of a checkout, default this one] [seconds per phase, default 5] [bytes of padding per session, default 0]
 *
 * The checkout's src/ is what runs, so two checkouts (before and after a change) can be compared
 * from one script. Each request of /count loads, increments and saves; /read only loads.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis, stopAll } from '../test/support/redis.js';
import { cookieFile, ensureWrk, wrk } from './lib/wrk.js';

const root = resolve(process.argv[2] ?? '.');
const seconds = Number(process.argv[3] ?? 5);
const padding = randomBytes(Number(process.argv[4] ?? 0))
  .toString('base64url')
  .slice(0, Number(process.argv[4] ?? 0));
const CACHE_TIMEOUT = 500;

const { createSessions } = await import(`${root}/src/index.ts`);
const { CachedStore } = await import(`${root}/src/stores/cached.ts`);
const { RedisStore } = await import(`${root}/src/stores/redis.ts`);
const { PostgresStore } = await import(`${root}/src/stores/postgres.ts`);

ensureWrk();
const postgres = await startPostgres();
const redis = await startRedis();
const pool = new pg.Pool({ connectionString: postgres.url, max: 10 });
const client = createClient({ url: redis.url });
client.on('error', () => {});
await client.connect();
let logLines = 0;
const logger = { warn: () => void logLines++, error: () => void logLines++ };

async function serve(store: unknown) {
  const sessions = createSessions({ store, logger });
  const server = createServer(async (req, res) => {
    try {
      const s = await sessions.load(req.headers.cookie);
      if (req.url === '/count') s.modify('n', (n: number | undefined) => (n ?? 0) + 1);
      if (padding && !s.has('padding')) s.set('padding', padding);
      const setCookie = await sessions.commit(s);
      if (setCookie) res.setHeader('set-cookie', setCookie);
      res.end(String(s.get('n') ?? 0));
    } catch (err) {
      res.statusCode = (err as { status?: number }).status ?? 500;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const cookies: string[] = [];
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/count`);
    cookies.push(res.headers.get('set-cookie')!.split(';')[0]!);
  }
  return { url, cookies: cookieFile(cookies), close: () => new Promise((r) => server.close(r)) };
}

const rows: string[] = [];
async function phase(name: string, url: string, cookies: string, path: string) {
  const before = logLines;
  const r = await wrk({ url, path, cookies, seconds, connections: 10 });
  rows.push(
    `| ${name} | ${path} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.non2xx + r.errors} | ${logLines - before} |`,
  );
  console.log(rows.at(-1));
}

try {
  const cached = await serve(
    new CachedStore({
      cache: new RedisStore({ client, timeout: CACHE_TIMEOUT, logger }),
      store: new PostgresStore({ pool, logger }),
      logger,
    }),
  );
  for (const path of ['/read', '/count']) await phase('cache up', cached.url, cached.cookies, path);
  process.kill(redis.pid!, 'SIGSTOP');
  try {
    for (const path of ['/read', '/count']) await phase('cache frozen (SIGSTOP)', cached.url, cached.cookies, path);
  } finally {
    process.kill(redis.pid!, 'SIGCONT');
  }
  await new Promise((r) => setTimeout(r, 1500));
  for (const path of ['/read', '/count']) await phase('after SIGCONT', cached.url, cached.cookies, path);
  await cached.close();
  const alone = await serve(new PostgresStore({ pool, logger }));
  for (const path of ['/read', '/count']) await phase('PostgresStore alone', alone.url, alone.cookies, path);
  await alone.close();
  console.log(
    `\nCachedStore from ${root}, RedisStore timeout ${CACHE_TIMEOUT} ms, ${padding.length} bytes of padding, wrk -t1 -c10 -d${seconds}s`,
  );
  console.log('| phase | path | req/s | p50 ms | p99 ms | errors | log lines |\n|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
} finally {
  await client.disconnect().catch(() => {});
  await pool.end();
  await postgres.destroy();
  await stopAll();
}
