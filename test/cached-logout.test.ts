/**
 * A logout always wins on CachedStore, across processes and a cache that goes down and comes back
 * from its append-only file: once the durable delete succeeded, no process serves the session
 * again. Two app processes share a Redis cache and a SQLite file, as a site behind a load
 * balancer would; the Redis server is killed and restarted between their requests.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../src/stores/sqlite.js';
import { type RedisServer, startRedis, stopAll } from './support/redis.js';

const worker = join(import.meta.dirname, 'support', 'cached-worker.ts');

interface Reply {
  error?: string;
  cookie?: string;
  key?: string | null;
  data?: Record<string, unknown>;
  setCookie?: string | null;
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

/** Retries `fn` while the cache client reconnects (bounded). */
async function eventually<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

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

  it('a logout the cache cannot record deletes nothing; once a logout succeeds no process serves the session, even after the cache comes back', async () => {
    // Three app processes; C serves nothing until it retries the logout.
    const [a, b, c] = await Promise.all([App.start(redis.url, path), App.start(redis.url, path), App.start(redis.url, path)]);
    apps.push(a, b, c);
    const { cookie } = await a.send('save', { data: { user: 'alice' } });
    assert.ok(cookie);
    const key = cookie.slice(cookie.indexOf('=') + 1);
    assert.deepEqual(await b.load(cookie), { user: 'alice' }, 'the other process serves it from the cache');

    /** The guarantee: whenever the durable record is gone, no process serves the session. */
    const neverServedOnceDeleted = async (app: App, when: string) => {
      const served = await eventually(() => app.load(cookie));
      if (!(await durable.exists(key))) assert.deepEqual(served, {}, `served after its durable delete (${when})`);
      return served;
    };

    // The cache goes down; a logout on A cannot reach it.
    await redis.kill();
    const failed = await a.send('logout', { cookie });
    assert.equal(failed.error, 'STORE_UNAVAILABLE', 'the logout answers 503');
    assert.equal(await durable.exists(key), true, 'a logout that failed deleted nothing, so the cache cannot undo it');
    await a.stop(); // the process that saw the failure dies: nothing may depend on its memory

    // The cache comes back with everything it had (append-only file), the old entry included.
    await redis.restart();
    assert.deepEqual(await neverServedOnceDeleted(b, 'cache restarted'), { user: 'alice' }, 'the session is whole: logged in');

    // The logout retried, from another process: it answers 200 and expires the cookie.
    const retried = await eventually(async () => {
      const reply = await c.send('logout', { cookie });
      if (reply.error) throw new Error(reply.error);
      return reply;
    });
    assert.match(retried.setCookie ?? '', /Max-Age=0/);
    assert.equal(await durable.exists(key), false, 'the durable record is gone');
    assert.deepEqual(await b.load(cookie), {}, 'the process that had it cached does not serve it');
    assert.deepEqual(await c.load(cookie), {});

    // The cache dies and comes back again: what it replays from its file does not bring it back.
    await redis.kill();
    assert.deepEqual(await neverServedOnceDeleted(b, 'cache down'), {});
    await redis.restart();
    assert.deepEqual(await neverServedOnceDeleted(b, 'cache restarted again'), {});
    assert.deepEqual(await neverServedOnceDeleted(c, 'cache restarted again'), {});
  });
});
