/**
 * CachedStore's breaker against a real redis-server frozen with SIGSTOP, over a real SQLite file:
 * after the first request waits out the cache's timeout, requests are served by SQLite at its own
 * speed, the cache is asked again at most once a second, its failure is logged at most once a
 * second, and once the server resumes the cache serves again, with the writes made meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { createSessions, type Sessions } from '../src/index.js';
import type { Logger } from '../src/core/log.js';
import { CachedStore } from '../src/stores/cached.js';
import { RedisStore } from '../src/stores/redis.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { type RedisServer, rawCommand, startRedis, stopAll } from './support/redis.js';
import { eventually } from './support/eventually.js';

type Data = Record<string, any>;
const TIMEOUT = 500;

/** A logger that remembers each line with the time it was written. */
function timedLogger(): Logger & { lines: { at: number; message: string; details?: Record<string, unknown> }[] } {
  const lines: { at: number; message: string; details?: Record<string, unknown> }[] = [];
  const push = (message: string, details?: Record<string, unknown>) => void lines.push({ at: Date.now(), message, details });
  return { lines, warn: push, error: push };
}

/** Redis's count of reads that found their key. */
async function keyspaceHits(redis: RedisServer): Promise<number> {
  const info = await rawCommand(redis.port, 'INFO stats');
  return Number(/keyspace_hits:(\d+)/.exec(info)![1]);
}

describe('CachedStore with its Redis cache frozen (SIGSTOP), over SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-cached-breaker-'));
  let redis: RedisServer;
  let client: ReturnType<typeof createClient>;
  let sessions: Sessions<Data>;
  const logger = timedLogger();

  before(async () => {
    redis = await startRedis();
    client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    const store = new CachedStore({
      cache: new RedisStore({ client, timeout: TIMEOUT, logger }),
      store: new SqliteStore({ path: join(dir, 'sessions.sqlite3'), logger }),
      logger,
    });
    sessions = createSessions<Data>({ store, logger });
  });
  after(async () => {
    await client.disconnect().catch(() => {});
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One request that counts its visits. */
  const visit = async (cookie: string) => {
    const s = await sessions.load(cookie);
    s.modify('n', (n: number | undefined) => (n ?? 0) + 1);
    await sessions.commit(s);
  };

  it('one request waits out the timeout; the others are served by SQLite, the cache asked once a second and logged once a second', async () => {
    const s = await sessions.load();
    s.set('n', 0);
    const cookie = (await sessions.commit(s))!.split(';')[0]!;
    await visit(cookie);
    const hits = await keyspaceHits(redis);
    await visit(cookie);
    assert.ok((await keyspaceHits(redis)) > hits, 'served by the cache while it is up');

    process.kill(redis.pid!, 'SIGSTOP');
    let visits = 2;
    const started = Date.now();
    let firstTook: number;
    try {
      // Twenty requests at once when the cache freezes: they all wait on it, at most its timeout.
      await Promise.all(Array.from({ length: 20 }, () => visit(cookie)));
      firstTook = Date.now() - started;
      visits += 20;
      // Then requests for 2.5 s: served by SQLite, one after another.
      while (Date.now() - started < 3000) {
        await visit(cookie);
        visits++;
      }
    } finally {
      process.kill(redis.pid!, 'SIGCONT');
    }
    const elapsed = Date.now() - started;
    assert.ok(firstTook < TIMEOUT + 1000, `the requests in flight when the cache froze took ${firstTook} ms`);
    const perSecond = ((visits - 22) * 1000) / (elapsed - firstTook);
    assert.ok(perSecond > 100, `only ${perSecond.toFixed(0)} requests/s were served with the cache frozen`);
    const failures = logger.lines.filter((l) => /session cache failed/.test(l.message));
    assert.ok(failures.length >= 1, 'the failure was logged');
    assert.ok(failures.length <= Math.ceil(elapsed / 1000) + 1, `${failures.length} lines in ${elapsed} ms`);
    for (let i = 1; i < failures.length; i++)
      assert.ok(failures[i]!.at - failures[i - 1]!.at >= 1000, 'two failure lines less than a second apart');

    // The cache resumes: within about a second a probe finds it, and it serves again; the visits
    // counted while it was frozen are all there.
    const hitsBefore = await keyspaceHits(redis);
    await eventually('the cache serving again', async () => {
      await visit(cookie);
      visits++;
      assert.ok((await keyspaceHits(redis)) > hitsBefore + 1);
    });
    assert.ok(logger.lines.some((l) => /session cache answers again/.test(l.message)));
    const last = await sessions.load(cookie);
    assert.equal(last.get('n'), visits, 'no visit lost, and the cache does not serve the count from before the freeze');
  });
});
