/**
 * `npm run bench -- races`: the adversarial races, against real stores through a real HTTP
 * adapter (sessionkit/node's withSession on node:http, 127.0.0.1). Per store and per round:
 *
 * - **resurrection**: a user signs in; then N parallel requests on that session each rotate the
 *   key (`cycleKey()`, or `login()` of the same user; only while the session is signed in as that
 *   user), while one more request revokes the user's sessions (`revokeUserSessions`) and another
 *   flushes the session, both sent at random places among the N. Afterwards every cookie any
 *   response handed out is loaded again: the ones that still load signed in are sessions a logout
 *   or revoke did not end (resurrected), and `listUserSessions` is asked too. Must be 0. A revoke
 *   answered 503 applied nothing and says so: it is retried, as a client must, before the count.
 * - **limit**: N parallel requests on one session each do
 *   `session.modify('attempts', n => (n ?? 0) + 1); await session.save();` and refuse when
 *   `session.get('attempts') > 5`: the requests that got through must be exactly 5. (A build
 *   without `session.save()` checks the value `modify` returned, as users did.) The counter stored
 *   afterwards must equal the requests answered 200 or 429: a 503 or 400 applied nothing.
 * - **login as another user**: Alice signs in with a cart and a flag; a request on her cookie sets
 *   a note and calls `login('bob')`; the new session must hold none of it.
 *
 * Stores: MemoryStore, SqliteStore (a file), RedisStore (a redis-server started here),
 * PostgresStore (a PostgreSQL started here) and CachedStore (that Redis over that PostgreSQL).
 * `BENCH_BEFORE=<another build's dist>` runs the same rounds against that build too.
 *
 *   --rounds N      rounds per store (default 5; --quick: 2)
 *   --parallel N    parallel requests per round (default 200)
 *   --filter REGEX  only the stores whose name matches (memory, sqlite, redis, postgres, cached)
 *   --work-ms N     the rotating endpoints wait up to N ms (random) before they rotate, as an app
 *                   checking a password would, so the parallel requests overlap on every store
 *                   (default 5; 0: rotate at once)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis, stopAll } from '../test/support/redis.js';
import { distModule } from './lib/server.js';

export interface RacesOptions {
  rounds: number;
  parallel: number;
  filter: RegExp | null;
  /** The rotating endpoints do up to this many ms of their own work (a password check) before they rotate. */
  workMs: number;
}

type Sk = Record<string, any>;

interface Build {
  label: string;
  sk: Sk;
  withSession: (sessions: any, handler: (req: any, res: any, session: any) => unknown) => (req: any, res: any) => void;
}

interface Round {
  /** cookies handed out (the signed-in one and every rotation's) that still load signed in */
  resurrected: number;
  /** the revoke answered 503 (not a logout: retryable): sessions signed in before the client's retry */
  beforeRetry: number | null;
  /** what listUserSessions shows for the user afterwards */
  listed: number;
  /** rotations (cycleKey/login) answered 2xx */
  rotated: number;
  /** statuses of the revoke and the flush */
  revoke: number;
  flush: number;
  /** requests that got through the limit of 5 */
  through: number;
  /** limit requests answered neither 200 nor 429 (status: count) */
  limitErrors: Record<number, number>;
  /** the counter stored afterwards, and the requests answered 200 or 429 (each saved its increment) */
  stored: number;
  saved: number;
  /** Alice's data (cart, flag) or the note set before login('bob') found in Bob's session */
  keptAlice: boolean;
}

interface StoreCase {
  name: string;
  make(build: Build, tag: string): Promise<{ store: unknown; close(): Promise<void> }>;
}

/** Counts what the library logs instead of printing it (the races make it log by design). */
function countingLogger(): { warn(): void; error(): void; count: number } {
  const l = {
    count: 0,
    warn() {
      l.count++;
    },
    error() {
      l.count++;
    },
  };
  return l;
}

const cookieOf = (setCookies: string[]): string | null => {
  for (const c of setCookies) {
    const pair = c.split(';')[0]!;
    if (pair.startsWith('sessionid=') && !/max-age=0/i.test(c) && pair !== 'sessionid=' && pair !== 'sessionid=""') return pair;
  }
  return null;
};

async function loadBuild(label: string, dist: string | null): Promise<Build> {
  const mod = (path: string) => (dist ? pathToFileURL(join(dist, path)).href : distModule(path));
  const sk = await import(mod('index.js'));
  const { withSession } = await import(mod('adapters/node.js'));
  return { label, sk, withSession };
}

/** The app under test: a node:http server with sessionkit/node over `sessions`. */
async function startApp(build: Build, sessions: any, workMs: number): Promise<{ base: string; server: Server }> {
  const handler = async (req: any, res: any, session: any) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const user = url.searchParams.get('user') ?? '';
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    switch (url.pathname) {
      case '/signin':
        session.set('cart', ['book']);
        session.set('flag', 'alice-only');
        await session.login(user);
        return answer(200, { ok: true });
      case '/rotate':
      case '/relogin':
        // An endpoint that rotates the key of a signed-in user (step-up, "remember me" renewal).
        if (session.userId !== user) return answer(403, { signedIn: false });
        if (workMs > 0) await sleep(Math.random() * workMs);
        if (url.pathname === '/rotate') await session.cycleKey();
        else await session.login(user);
        return answer(200, { ok: true });
      case '/revoke':
        return answer(200, { revoked: await sessions.revokeUserSessions(user) });
      case '/flush':
        await session.flush();
        return answer(200, { ok: true });
      case '/whoami':
        return answer(200, {
          userId: session.userId ?? null,
          cart: session.get('cart') ?? null,
          flag: session.get('flag') ?? null,
          note: session.get('note') ?? null,
          attempts: session.get('attempts') ?? 0,
        });
      case '/attempt': {
        const n = session.modify('attempts', (n: number | undefined) => (n ?? 0) + 1);
        let value = n;
        if (typeof session.save === 'function') {
          await session.save();
          value = session.get('attempts');
        }
        return answer(value > 5 ? 429 : 200, { attempts: value });
      }
      case '/login-as':
        session.set('note', 'set before login');
        await session.login(user);
        return answer(200, { ok: true });
      default:
        return answer(404, {});
    }
  };
  const server = createServer(build.withSession(sessions, handler));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function send(base: string, path: string, cookie: string | null): Promise<{ status: number; cookie: string | null; body: any }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${base}${path}`, {
        method: path === '/whoami' ? 'GET' : 'POST',
        headers: cookie ? { cookie } : {},
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let body: any = null;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: res.status, cookie: cookieOf(res.headers.getSetCookie()), body };
    } catch (err) {
      // a connection reset by the client's own pool is not the server's answer: send again
      if (attempt >= 2) throw err;
    }
  }
}

async function oneRound(base: string, sessions: any, tag: string, round: number, parallel: number): Promise<Round> {
  const out: Round = {
    resurrected: 0,
    beforeRetry: null,
    listed: 0,
    rotated: 0,
    revoke: 0,
    flush: 0,
    through: 0,
    limitErrors: {},
    stored: 0,
    saved: 0,
    keptAlice: false,
  };

  // Resurrection: N rotations on one signed-in session while it is revoked and flushed.
  const user = `${tag}-r${round}-${process.pid}`;
  const signin = await send(base, `/signin?user=${user}`, null);
  if (signin.status !== 200 || !signin.cookie) throw new Error(`sign-in answered ${signin.status}`);
  const paths: string[] = [];
  for (let i = 0; i < parallel; i++) paths.push(i % 2 ? `/rotate?user=${user}` : `/relogin?user=${user}`);
  const revokeAt = Math.floor(parallel / 4 + Math.random() * (parallel / 2));
  const flushAt = Math.floor(parallel / 4 + Math.random() * (parallel / 2));
  paths.splice(revokeAt, 0, `/revoke?user=${user}`);
  paths.splice(flushAt, 0, '/flush');
  const answers = await Promise.all(paths.map((p) => send(base, p, signin.cookie)));
  const cookies = new Set<string>([signin.cookie]);
  answers.forEach((a, i) => {
    const p = paths[i]!;
    if (a.cookie) cookies.add(a.cookie);
    if (p.startsWith('/revoke')) out.revoke = a.status;
    else if (p === '/flush') out.flush = a.status;
    else if (a.status >= 200 && a.status < 300) out.rotated++;
  });
  const signedIn = async () => {
    let n = 0;
    for (const cookie of cookies) if ((await send(base, '/whoami', cookie)).body?.userId === user) n++;
    return n;
  };
  if (out.revoke !== 200) {
    // A revoke answered 503 applied nothing and says so: the client retries it, as it must.
    out.beforeRetry = await signedIn();
    for (let i = 0; i < 10 && (await send(base, `/revoke?user=${user}`, null)).status !== 200; i++) await sleep(200);
  }
  out.resurrected = await signedIn();
  out.listed = (await sessions.listUserSessions(user)).length;

  // The limit: N parallel modify + save, at most 5 through.
  const limitUser = `${tag}-l${round}-${process.pid}`;
  const limited = await send(base, `/signin?user=${limitUser}`, null);
  const tries = await Promise.all(Array.from({ length: parallel }, () => send(base, '/attempt', limited.cookie)));
  for (const t of tries) {
    if (t.status === 200) out.through++;
    else if (t.status !== 429) out.limitErrors[t.status] = (out.limitErrors[t.status] ?? 0) + 1;
    if (t.status === 200 || t.status === 429) out.saved++;
  }
  out.stored = (await send(base, '/whoami', limited.cookie)).body?.attempts ?? 0;

  // Login as another user on Alice's session.
  const alice = await send(base, `/signin?user=${tag}-alice${round}-${process.pid}`, null);
  const bob = await send(base, `/login-as?user=${tag}-bob${round}-${process.pid}`, alice.cookie);
  const bobs = await send(base, '/whoami', bob.cookie ?? alice.cookie);
  if (bobs.body?.cart !== null || bobs.body?.flag !== null || bobs.body?.note !== null) out.keptAlice = true;
  return out;
}

export async function races(options: RacesOptions): Promise<string> {
  const builds: Build[] = [await loadBuild('this build', null)];
  if (process.env.BENCH_BEFORE) builds.push(await loadBuild('before', process.env.BENCH_BEFORE));
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-races-'));

  // The servers, started when a store needs them, stopped at the end.
  let redis: Awaited<ReturnType<typeof startRedis>> | null = null;
  let postgres: Awaited<ReturnType<typeof startPostgres>> | null = null;
  const redisClient = async () => {
    redis ??= await startRedis();
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    return client;
  };
  const pgPool = async () => {
    postgres ??= await startPostgres();
    const pool = new pg.Pool({ connectionString: postgres.url, max: 10 });
    pool.on('error', () => {});
    return pool;
  };
  const table = (tag: string) => `races_${tag.replace(/\W/g, '_')}`;

  const cases: StoreCase[] = [
    { name: 'memory', make: async (b) => ({ store: new b.sk.MemoryStore(), close: async () => {} }) },
    {
      name: 'sqlite',
      make: async (b, tag) => ({ store: new b.sk.SqliteStore({ path: join(dir, `${tag}.sqlite3`) }), close: async () => {} }),
    },
    {
      name: 'redis',
      make: async (b, tag) => {
        const client = await redisClient();
        return { store: new b.sk.RedisStore({ client, prefix: `${tag}:` }), close: async () => void (await client.quit()) };
      },
    },
    {
      name: 'postgres',
      make: async (b, tag) => {
        const pool = await pgPool();
        return { store: new b.sk.PostgresStore({ pool, table: table(tag) }), close: () => pool.end() };
      },
    },
    {
      name: 'cached',
      make: async (b, tag) => {
        const client = await redisClient();
        const pool = await pgPool();
        const store = new b.sk.CachedStore({
          cache: new b.sk.RedisStore({ client, prefix: `${tag}:` }),
          store: new b.sk.PostgresStore({ pool, table: table(tag) }),
        });
        return {
          store,
          close: async () => {
            await client.quit();
            await pool.end();
          },
        };
      },
    },
  ];

  const lines: string[] = [];
  const print = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  const started = new Date();
  print(
    `Command: \`npm run bench -- races${options.rounds !== 5 ? ` --rounds ${options.rounds}` : ''}${options.parallel !== 200 ? ` --parallel ${options.parallel}` : ''}${options.workMs !== 5 ? ` --work-ms ${options.workMs}` : ''}\`${process.env.BENCH_BEFORE ? ' with BENCH_BEFORE' : ''}, run on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, node ${process.version}; ${options.parallel} parallel requests per round through sessionkit/node on node:http (127.0.0.1); the rotating endpoints wait a random 0–${options.workMs} ms before they rotate.`,
  );
  print('');
  print(
    "| build | store | round | rotations 2xx | revoke / flush | signed in after a 503 revoke, before its retry | resurrected (load signed in) | listUserSessions | through the limit of 5 | limit: other answers | limit: counter stored / saves answered 200 or 429 | login(bob) kept Alice's data |",
  );
  print('|---|---|---:|---:|---|---:|---:|---:|---:|---|---|---|');
  const totals: string[] = [];
  try {
    for (const c of cases) {
      if (options.filter && !options.filter.test(c.name)) continue;
      for (const build of builds) {
        const tag = `${c.name}${build.label === 'before' ? 'b' : 'a'}${process.pid}`;
        const { store, close } = await c.make(build, tag);
        const logger = countingLogger();
        const sessions = build.sk.createSessions({ store, logger });
        const app = await startApp(build, sessions, options.workMs);
        const sum = { resurrected: 0, beforeRetry: 0, listed: 0, through: 0, kept: 0, errors: 0, phantom: 0 };
        try {
          for (let round = 1; round <= options.rounds; round++) {
            const r = await oneRound(app.base, sessions, tag, round, options.parallel);
            const errors = Object.entries(r.limitErrors);
            sum.resurrected += r.resurrected;
            sum.listed += r.listed;
            sum.through += r.through;
            sum.kept += r.keptAlice ? 1 : 0;
            sum.errors += errors.reduce((s, [, n]) => s + n, 0);
            sum.beforeRetry += r.beforeRetry ?? 0;
            if (r.stored !== r.saved) sum.phantom++;
            print(
              `| ${build.label} | ${c.name} | ${round} | ${r.rotated} | ${r.revoke} / ${r.flush} | ${r.beforeRetry ?? '–'} | ${r.resurrected} | ${r.listed} | ${r.through} | ${errors.length ? errors.map(([s, n]) => `${n}× ${s}`).join(', ') : '–'} | ${r.stored} / ${r.saved}${r.stored !== r.saved ? ' **differ**' : ''} | ${r.keptAlice ? '**yes**' : 'no'} |`,
            );
          }
        } finally {
          await new Promise((r) => app.server.close(r));
          app.server.closeAllConnections();
          await sessions.close();
          await close();
        }
        const total = `| ${build.label} | ${c.name} | **total of ${options.rounds}** |  |  | ${sum.beforeRetry} | **${sum.resurrected}** | **${sum.listed}** | **${sum.through}** (goal ${5 * options.rounds}) | ${sum.errors} | ${sum.phantom ? `**differ in ${sum.phantom} rounds**` : 'equal in every round'} | ${sum.kept} of ${options.rounds} |`;
        print(total);
        totals.push(total);
        if (logger.count) console.log(`  (${build.label} ${c.name}: the library logged ${logger.count} lines, counted, not printed)`);
      }
    }
  } finally {
    await stopAll();
    await (postgres as Awaited<ReturnType<typeof startPostgres>> | null)?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  print('');
  print('Totals:');
  print('');
  print(
    "| build | store | | | | signed in after a 503 revoke, before its retry | resurrected | listUserSessions | through the limit | limit: other answers | limit: counter stored = saves answered | kept Alice's data |",
  );
  print('|---|---|---|---|---|---:|---:|---:|---:|---:|---|---|');
  for (const t of totals) print(t);
  return lines.join('\n');
}
