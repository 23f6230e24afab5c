/**
 * A logout always wins on CachedStore, across processes and a cache that goes down and comes back
 * from its append-only file, hangs (SIGSTOP) and resumes, or comes back from an older snapshot:
 * a logout or revoke that answered is in force in every process. App processes share a Redis
 * cache and a SQLite file, as a site behind a load balancer would; the Redis server is killed,
 * stopped and restarted between their requests, each step taken by hand, in order.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestKey } from '../src/core/keys.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { type RedisServer, rawCommand, startRedis, stopAll } from './support/redis.js';
import { eventually } from './support/eventually.js';

const worker = join(import.meta.dirname, 'support', 'cached-worker.ts');

interface Reply {
  error?: string;
  cookie?: string;
  key?: string | null;
  data?: Record<string, unknown>;
  setCookie?: string | null;
  revoked?: boolean;
}

/** An app process; `send` resolves with its reply. */
class App {
  #next = 1;
  readonly #waiting = new Map<number, (reply: Reply) => void>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: Reply & { id: number }) => {
      this.#waiting.get(m.id)?.(m);
      this.#waiting.delete(m.id);
    });
  }
  static async start(redisUrl: string, path: string): Promise<App> {
    const child = fork(worker, [redisUrl, path], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await once(child, 'message');
    return new App(child);
  }
  send(op: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.child.send({ id, op, ...fields });
    });
  }
  /** The session data this process serves for `cookie` (empty: no session). */
  async load(cookie: string): Promise<Record<string, unknown>> {
    const reply = await this.send('load', { cookie });
    assert.equal(reply.error, undefined, `load failed: ${reply.error}`);
    return reply.data!;
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Whether the Redis server still holds a cache entry for the session (the data to be refused). */
const cached = async (server: RedisServer, key: string) =>
  (await rawCommand(server.port, `EXISTS sessionkit:{${digestKey(key)}}`)) === ':1';
const keyOf = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);
const succeeded = async (reply: Promise<Reply>) => {
  const r = await reply;
  assert.equal(r.error, undefined, `answered ${r.error}`);
  return r;
};

describe('CachedStore: a logout always wins, across processes and a Redis cache restarted from its AOF', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-cached-logout-'));
  const path = join(dir, 'sessions.sqlite3');
  let redis: RedisServer;
  let durable: SqliteStore;
  const apps: App[] = [];

  before(async () => {
    redis = await startRedis({ persistent: true });
    durable = new SqliteStore({ path });
    await durable.stats(); // creates the table before the processes race to
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await durable.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a logout while the cache is down answers, and no process serves the session once the cache is back from its AOF', async () => {
    const [a, b, c] = await Promise.all([App.start(redis.url, path), App.start(redis.url, path), App.start(redis.url, path)]);
    apps.push(a, b, c);
    const { cookie } = await a.send('save', { data: { user: 'alice' } });
    assert.ok(cookie);
    const key = keyOf(cookie);
    assert.deepEqual(await b.load(cookie), { user: 'alice' }, 'the other process serves it from the cache');

    // The cache goes down; a logout on A cannot reach it, and answers all the same.
    await redis.kill();
    const out = await succeeded(a.send('logout', { cookie }));
    assert.match(out.setCookie ?? '', /Max-Age=0/);
    assert.equal(await durable.exists(key), false, 'the durable record is gone');
    await a.stop(); // the process that logged out dies: nothing may depend on its memory

    // The cache comes back with everything it had (append-only file), the old entry included.
    await redis.restart();
    assert.equal(await cached(redis, key), true, 'the restarted cache holds the logged-out session');
    assert.deepEqual(await eventually('a store call', () => b.load(cookie)), {}, 'the process that had it cached does not serve it');
    assert.deepEqual(await eventually('a store call', () => c.load(cookie)), {});
    const d = await App.start(redis.url, path); // a process started after the outage
    apps.push(d);
    assert.deepEqual(await d.load(cookie), {});
  });

  it('a revoke while the cache is down answers true, and no process serves the session once the cache is back from its AOF', async () => {
    const [a, b] = await Promise.all([App.start(redis.url, path), App.start(redis.url, path)]);
    apps.push(a, b);
    const { cookie } = await eventually('a store call', () => succeeded(a.send('save', { data: { user: 'bob' } })));
    const key = keyOf(cookie!);
    assert.deepEqual(await b.load(cookie!), { user: 'bob' });
    await redis.kill();
    assert.equal((await succeeded(a.send('revoke', { sessionId: digestKey(key) }))).revoked, true);
    await redis.restart();
    assert.equal(await cached(redis, key), true, 'the restarted cache holds the revoked session');
    assert.deepEqual(await eventually('a store call', () => b.load(cookie!)), {});
    assert.deepEqual(await eventually('a store call', () => a.load(cookie!)), {});
  });

  it('a logout while the cache hangs (SIGSTOP) answers, and no process serves the session once the cache resumes', async () => {
    const [a, b] = await Promise.all([App.start(redis.url, path), App.start(redis.url, path)]);
    apps.push(a, b);
    const { cookie } = await eventually('a store call', () => succeeded(a.send('save', { data: { user: 'carol' } })));
    const key = keyOf(cookie!);
    assert.deepEqual(await b.load(cookie!), { user: 'carol' });
    process.kill(redis.pid!, 'SIGSTOP');
    try {
      const started = Date.now();
      await succeeded(a.send('logout', { cookie }));
      assert.ok(Date.now() - started < 3000, 'the logout did not wait on the frozen cache for long');
      assert.equal(await durable.exists(key), false);
    } finally {
      process.kill(redis.pid!, 'SIGCONT');
    }
    assert.equal(await cached(redis, key), true, 'the resumed cache still holds the session');
    assert.deepEqual(await eventually('a store call', () => b.load(cookie!)), {});
    assert.deepEqual(await eventually('a store call', () => a.load(cookie!)), {});
  });
});

describe('CachedStore: a cache restored from a snapshot taken before a logout and a revoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-cached-snapshot-'));
  const path = join(dir, 'sessions.sqlite3');
  let redis: RedisServer;
  let durable: SqliteStore;
  const apps: App[] = [];

  before(async () => {
    redis = await startRedis(); // no append-only file: restarts load dump.rdb
    durable = new SqliteStore({ path });
    await durable.stats();
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await durable.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves neither session as signed in, in any process, and still serves the others', async () => {
    const [a, b] = await Promise.all([App.start(redis.url, path), App.start(redis.url, path)]);
    apps.push(a, b);
    const saved = await Promise.all(['dave', 'erin', 'frank'].map((user) => a.send('save', { data: { user } })));
    const [out, revoked, kept] = saved.map((r) => r.cookie!) as [string, string, string];
    for (const cookie of [out, revoked, kept]) assert.notDeepEqual(await b.load(cookie), {});
    // The snapshot: Redis writes dump.rdb; a copy is put aside.
    assert.equal(await rawCommand(redis.port, 'SAVE'), '+OK');
    const rdb = join(redis.dir, 'dump.rdb');
    copyFileSync(rdb, `${rdb}.before`);
    // The logout and the revoke, while the cache is up: tombstone and drop.
    assert.match((await succeeded(a.send('logout', { cookie: out }))).setCookie ?? '', /Max-Age=0/);
    assert.equal((await succeeded(b.send('revoke', { sessionId: digestKey(keyOf(revoked)) }))).revoked, true);
    assert.equal(await cached(redis, keyOf(revoked)), false);
    // The cache is restored from the older snapshot.
    await redis.kill();
    copyFileSync(`${rdb}.before`, rdb);
    await redis.restart();
    for (const cookie of [out, revoked]) assert.equal(await cached(redis, keyOf(cookie)), true, 'the snapshot brought the entry back');
    const c = await App.start(redis.url, path);
    apps.push(c);
    for (const app of [a, b, c]) {
      assert.deepEqual(await eventually('a store call', () => app.load(out)), {}, 'the logged-out session');
      assert.deepEqual(await eventually('a store call', () => app.load(revoked)), {}, 'the revoked session');
      assert.deepEqual(await eventually('a store call', () => app.load(kept)), { user: 'frank' });
    }
  });
});
