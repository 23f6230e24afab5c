/**
 * Redis stopped (or hung) mid-way: requests fail with StoreUnavailableError within the store's
 * timeout instead of hanging, the process does not crash on the client's 'error' events, and once
 * the same server is back (same port, same append-only file) the same sessions load again intact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { createSessions, StoreUnavailableError, type Sessions } from '../src/index.js';
import { RedisStore } from '../src/stores/redis.js';
import { createStore } from '../src/stores/url.js';
import { recordingLogger } from '../src/testing/store-suite.js';
import { digestKey } from '../src/core/keys.js';
import { rawCommand, type RedisCluster, type RedisServer, startCluster, startRedis, stopAll } from './support/redis.js';
import { type ConnectedClient, redisClients } from './support/redis-clients.js';
import { eventually } from './support/eventually.js';

type Data = Record<string, any>;
const TIMEOUT = 1000;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => void unhandled.push(err);

before(() => {
  process.on('unhandledRejection', onUnhandled);
});
after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await stopAll();
});

/** Saves a session holding `data` and returns its cookie. */
async function saveSession(sessions: Sessions<Data>, data: Record<string, unknown>): Promise<string> {
  const s = await sessions.load();
  s.update(data);
  const header = await sessions.commit(s);
  assert.ok(header);
  return header.split(';')[0]!;
}

async function assertUnavailableWithin(promise: Promise<unknown>, limit: number): Promise<number> {
  const started = Date.now();
  await assert.rejects(
    promise,
    (err: unknown) => err instanceof StoreUnavailableError && err.code === 'STORE_UNAVAILABLE' && err.message.startsWith('sessionkit:'),
  );
  const took = Date.now() - started;
  assert.ok(took <= limit, `StoreUnavailableError took ${took} ms, more than ${limit} ms`);
  return took;
}

let shared: Promise<RedisServer> | undefined;
/** One persistent server for every client below: each uses its own database, and they run one after another. */
const persistentServer = () => (shared ??= startRedis({ persistent: true }));

redisClients.forEach((kind, i) => {
  describe(`Redis stopped mid-way, with a client the user passed in (${kind.name})`, () => {
    let redis: RedisServer;
    let connected: ConnectedClient;
    let peek: ReturnType<typeof createClient>;
    let sessions: Sessions<Data>;
    const logger = recordingLogger();
    const db = i + 1;

    before(async () => {
      redis = await persistentServer();
      // The client's default options: an offline queue and no 'error' listener of the user's own.
      connected = await kind.connect(`${redis.url}/${db}`);
      sessions = createSessions<Data>({ store: new RedisStore({ client: connected.client, logger, timeout: TIMEOUT }), logger });
    });
    after(async () => {
      await connected.close().catch(() => {});
      if (peek?.isOpen) await peek.close();
    });

    it('load and commit fail with StoreUnavailableError within the timeout, the process survives, and the session is back after a restart', async () => {
      const cookie = await saveSession(sessions, { user: 'alice', cart: ['apple'] });
      const { client } = connected;
      assert.equal(client.listenerCount('error'), 1, 'the store attached the only error listener');

      await redis.kill();
      const fresh = await sessions.load();
      fresh.set('x', 1);
      await assertUnavailableWithin(sessions.load(cookie), TIMEOUT + 500);
      await assertUnavailableWithin(sessions.commit(fresh), TIMEOUT + 500);
      assert.ok(
        logger.records.some((r) => r.level === 'error' && /Redis client error/.test(r.message)),
        'the client error was logged',
      );

      await redis.restart();
      const back = await eventually('loading after the restart', () => sessions.load(cookie));
      assert.deepEqual(Object.fromEntries(back.entries()), { user: 'alice', cart: ['apple'] });
      back.modify('cart', (cart: string[]) => [...cart, 'pear']);
      assert.ok(await sessions.commit(back));
      assert.deepEqual((await sessions.load(cookie)).get('cart'), ['apple', 'pear']);
      // The commit that failed while Redis was down stays failed: nothing queued came back later.
      peek = createClient({ url: `${redis.url}/${db}` });
      await peek.connect();
      assert.equal(Number(await peek.dbSize()), 1);
    });

    it('a server that hangs (SIGSTOP) gets StoreUnavailableError after the timeout, not a hang', async () => {
      const cookie = await saveSession(sessions, { user: 'bob' });
      process.kill(redis.pid!, 'SIGSTOP');
      try {
        const took = await assertUnavailableWithin(sessions.load(cookie), TIMEOUT + 500);
        assert.ok(took >= TIMEOUT - 50, `gave up after ${took} ms, before the timeout`);
      } finally {
        process.kill(redis.pid!, 'SIGCONT');
      }
      assert.equal((await eventually('loading after SIGCONT', () => sessions.load(cookie))).get('user'), 'bob');
    });
  });
});

describe('a Redis Cluster master stopped mid-way, with the Cluster clients the user passed in', () => {
  const kinds = redisClients.filter((kind) => kind.connectCluster);
  let cluster: RedisCluster;
  let apps: { name: string; connected: ConnectedClient; sessions: Sessions<Data> }[] = [];
  const logger = recordingLogger();

  before(async () => {
    cluster = await startCluster({ persistent: true });
    const urls = cluster.nodes.map((n) => n.url);
    apps = await Promise.all(
      kinds.map(async (kind) => {
        const connected = await kind.connectCluster!(urls);
        return {
          name: kind.name,
          connected,
          sessions: createSessions<Data>({ store: new RedisStore({ client: connected.client, logger, timeout: TIMEOUT }), logger }),
        };
      }),
    );
  });
  after(async () => {
    await Promise.all(apps.map((app) => app.connected.close().catch(() => {})));
  });

  /** The master that holds the session named by `cookie` (the others answer MOVED). */
  async function masterOf(cookie: string): Promise<RedisServer> {
    const key = `sessionkit:{${digestKey(cookie.slice(cookie.indexOf('=') + 1))}}`;
    for (const node of cluster.nodes) if ((await rawCommand(node.port, `EXISTS ${key}`)) === ':1') return node;
    throw new Error(`no master holds ${key}`);
  }

  it('every client gets StoreUnavailableError within the timeout while the master holding the session is down, and the session once it is back', async () => {
    const cookie = await saveSession(apps[0]!.sessions, { user: 'dave' });
    const master = await masterOf(cookie);
    await master.kill();
    await Promise.all(apps.map((app) => assertUnavailableWithin(app.sessions.load(cookie), TIMEOUT + 500)));
    await master.restart();
    for (const app of apps) {
      const back = await eventually(`${app.name} loading after the restart`, () => app.sessions.load(cookie), 30_000);
      assert.equal(back.get('user'), 'dave', app.name);
    }
  });

  it('every client gets StoreUnavailableError after the timeout while that master hangs (SIGSTOP), and the session after SIGCONT', async () => {
    const cookie = await saveSession(apps[0]!.sessions, { user: 'erin' });
    const master = await masterOf(cookie);
    process.kill(master.pid!, 'SIGSTOP');
    try {
      const took = await Promise.all(apps.map((app) => assertUnavailableWithin(app.sessions.load(cookie), TIMEOUT + 500)));
      for (const ms of took) assert.ok(ms >= TIMEOUT - 50, `gave up after ${ms} ms, before the timeout`);
    } finally {
      process.kill(master.pid!, 'SIGCONT');
    }
    for (const app of apps) {
      const back = await eventually(`${app.name} loading after SIGCONT`, () => app.sessions.load(cookie), 30_000);
      assert.equal(back.get('user'), 'erin', app.name);
    }
  });
});

describe('Redis stopped mid-way, with createStore(redis://…)', () => {
  let redis: RedisServer;
  let sessions: Sessions<Data>;
  const logger = recordingLogger();

  before(async () => {
    redis = await persistentServer();
    sessions = createSessions<Data>({ store: createStore(`${redis.url}/0`, { logger }), logger });
  });
  after(async () => {
    await sessions.close();
  });

  it('fails fast while Redis is down (no offline queue), and loads the same session once it is back', async () => {
    const cookie = await saveSession(sessions, { user: 'carol', count: 3 });
    await redis.kill();
    // The first request notices the lost connection; the ones after fail at once.
    await assertUnavailableWithin(sessions.load(cookie), TIMEOUT * 2 + 500);
    const took = await assertUnavailableWithin(sessions.load(cookie), 200);
    const fresh = await sessions.load();
    fresh.set('x', 1);
    await assertUnavailableWithin(sessions.commit(fresh), 200);
    assert.ok(took < 200);

    await redis.restart();
    const back = await eventually('loading after the restart', () => sessions.load(cookie));
    assert.deepEqual(Object.fromEntries(back.entries()), { user: 'carol', count: 3 });
    back.set('count', 4);
    assert.ok(await sessions.commit(back));
    assert.equal((await sessions.load(cookie)).get('count'), 4);
  });

  it('no unhandled rejection or error escaped', () => {
    assert.deepEqual(unhandled, []);
  });
});
