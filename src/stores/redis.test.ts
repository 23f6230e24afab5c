import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createCluster } from 'redis';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { describeStore, recordingLogger } from '../testing/store-suite.js';
import { startCluster, startRedis, stopAll, type RedisCluster, type RedisServer } from '../../test/support/redis.js';
import { RedisStore } from './redis.js';
import { createStore } from './url.js';

let standalone: Promise<RedisServer> | undefined;
let cluster: Promise<RedisCluster> | undefined;
const server = () => (standalone ??= startRedis());
const clusterServers = () => (cluster ??= startCluster());

after(stopAll);

const connectTo = (url: string) => createClient({ url });
type Client = ReturnType<typeof connectTo>;

/** Every key and value under the prefix, on every node. */
async function dumpKeys(clients: Client[], prefix: string): Promise<string> {
  const out: Record<string, string | null> = {};
  for (const c of clients) {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const k of keys) out[k] = (await c.get(k)) as string | null;
    }
  }
  return JSON.stringify(out);
}

describeStore('RedisStore on a standalone redis-server', {
  selfExpiring: true,
  async setup(logger) {
    const { url } = await server();
    const client = createClient({ url });
    const peerClient = createClient({ url });
    await Promise.all([client.connect(), peerClient.connect()]);
    const prefix = 'suite:';
    return {
      store: new RedisStore({ client, prefix, logger }),
      peer: new RedisStore({ client: peerClient, prefix, logger }),
      corrupt: async (key) => void (await peerClient.set(`${prefix}{${digestKey(key)}}`, '\u0000garbage', { KEEPTTL: true } as any)),
      dumpAtRest: () => dumpKeys([peerClient], prefix),
      close: async () => {
        await client.close();
        await peerClient.close();
      },
    };
  },
});

describeStore('RedisStore on a 3-master Redis Cluster', {
  selfExpiring: true,
  async setup(logger) {
    const { rootNodes, nodes } = await clusterServers();
    const client = createCluster({ rootNodes });
    const peerClient = createCluster({ rootNodes });
    await Promise.all([client.connect(), peerClient.connect()]);
    const direct = nodes.map((n) => createClient({ url: n.url }));
    await Promise.all(direct.map((c) => c.connect()));
    const prefix = 'suite:';
    return {
      store: new RedisStore({ client, prefix, logger }),
      peer: new RedisStore({ client: peerClient, prefix, logger }),
      corrupt: async (key) => void (await peerClient.set(`${prefix}{${digestKey(key)}}`, 'not json at all', { KEEPTTL: true } as any)),
      dumpAtRest: () => dumpKeys(direct, prefix),
      close: async () => {
        await client.close();
        await peerClient.close();
        await Promise.all(direct.map((c) => c.close()));
      },
    };
  },
});

describe('RedisStore specifics', () => {
  let url: string;
  let client: Client;
  before(async () => {
    url = (await server()).url;
    client = createClient({ url });
    await client.connect();
  });
  after(async () => {
    if (client.isOpen) await client.close();
  });

  it('keeps one key per session, {prefix}{sha256}, with the session expiry as its TTL', async () => {
    const store = new RedisStore({ client, prefix: 'ttl:' });
    const key = newSessionKey();
    const now = Date.now();
    assert.equal(await store.create(key, { a: 1 }, now + 60_000, now), 1);
    const redisKey = `ttl:{${digestKey(key)}}`;
    const pttl = await client.pTTL(redisKey);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `PTTL ${pttl}`);
    assert.deepEqual(JSON.parse((await client.get(redisKey)) as string), { v: 1, e: now + 60_000, d: { a: 1 } });
    const r = await store.update(key, { a: 2 }, now + 5_000, 1, now);
    assert.deepEqual(r, { status: 'ok', version: 2 });
    assert.ok((await client.pTTL(redisKey)) <= 5_000, 'an update moves the TTL with the expiry');
  });

  it('the default prefix is sessionkit:', async () => {
    const store = new RedisStore({ client });
    const key = newSessionKey();
    await store.create(key, { a: 1 }, Date.now() + 60_000);
    assert.equal(await client.exists(`sessionkit:{${digestKey(key)}}`), 1);
    await store.delete(key);
  });

  it('a write that is already expired leaves nothing in Redis', async () => {
    const store = new RedisStore({ client, prefix: 'past:' });
    const key = newSessionKey();
    const now = Date.now();
    assert.equal(await store.create(key, { a: 1 }, now - 1, now), 1);
    assert.equal(await store.exists(key), false);
    assert.equal(await store.create(key, { a: 1 }, now + 60_000, now), 1);
    assert.deepEqual(await store.update(key, { a: 2 }, now - 1, 1, now), { status: 'ok', version: 2 });
    assert.equal(await store.exists(key), false);
  });

  it('a record expired by the injected clock is missing for load and update, and clearExpired removes it', async () => {
    const store = new RedisStore({ client, prefix: 'clock:' });
    const key = newSessionKey();
    const now = Date.now();
    await store.create(key, { a: 1 }, now + 60_000, now);
    const later = now + 61_000;
    assert.equal(await store.load(key, later), null);
    assert.deepEqual(await store.update(key, { a: 2 }, later + 60_000, 1, later), { status: 'missing' });
    assert.deepEqual(await store.stats(later), { count: 1, expired: 1, bytes: (await client.get(`clock:{${digestKey(key)}}`))!.length });
    assert.equal(await store.clearExpired(now), 0);
    assert.equal(await store.clearExpired(later), 1);
    assert.equal(await store.exists(key), false);
  });

  it('a value with a good head but broken data reads empty, logged, and keeps its version for the next save', async () => {
    const logger = recordingLogger();
    const store = new RedisStore({ client, prefix: 'broken:', logger });
    const key = newSessionKey();
    const now = Date.now();
    await client.set(`broken:{${digestKey(key)}}`, `{"v":7,"e":${now + 60_000},"d":[1,2]}`, { PX: 60_000 } as any);
    const loaded = await store.load(key, now);
    assert.deepEqual(loaded, { data: {}, expiresAt: now + 60_000, version: 7 });
    assert.equal(logger.records.length, 1);
    assert.deepEqual(await store.update(key, { ok: true }, now + 60_000, 7, now), { status: 'ok', version: 8 });
    assert.deepEqual((await store.load(key, now))!.data, { ok: true });
  });

  it('rejects bad options with ConfigError', () => {
    assert.throws(() => new RedisStore({ client: undefined as any }), ConfigError);
    assert.throws(
      () => new RedisStore({ client, prefix: 'a{b}:' }),
      (err: unknown) => err instanceof ConfigError && err.option === 'prefix',
    );
    assert.throws(
      () => new RedisStore({ client, timeout: 0 }),
      (err: unknown) => err instanceof ConfigError && err.option === 'timeout',
    );
  });

  it('close leaves a client the user passed in open', async () => {
    const store = new RedisStore({ client });
    await store.close();
    assert.equal(client.isReady, true);
    await assert.rejects(store.load(newSessionKey()), StoreUnavailableError);
  });

  it('attaches a logging error listener to a client that has none, so a client error cannot crash the process', async () => {
    const logger = recordingLogger();
    const bare = createClient({ url });
    assert.equal(bare.listenerCount('error'), 0);
    new RedisStore({ client: bare, logger });
    assert.equal(bare.listenerCount('error'), 1);
    bare.emit('error', new Error('boom'));
    assert.equal(logger.records.at(-1)?.level, 'error');
    const withOwn = createClient({ url });
    withOwn.on('error', () => {});
    new RedisStore({ client: withOwn });
    assert.equal(withOwn.listenerCount('error'), 1, "the user's own listener is left alone");
  });

  it('a client that was never connected gives StoreUnavailableError', async () => {
    const store = new RedisStore({ client: createClient({ url }), logger: recordingLogger() });
    await assert.rejects(
      store.load(newSessionKey()),
      (err: unknown) => err instanceof StoreUnavailableError && err.code === 'STORE_UNAVAILABLE',
    );
  });

  it('createStore(redis://…) connects lazily, round-trips a session, and close() quits its own client', async () => {
    const store = createStore(`${url}/0`) as RedisStore;
    assert.ok(store instanceof RedisStore);
    const key = newSessionKey();
    const now = Date.now();
    assert.equal(await store.create(key, { via: 'url' }, now + 60_000, now), 1);
    assert.deepEqual((await store.load(key, now))!.data, { via: 'url' });
    assert.equal(await client.exists(`sessionkit:{${digestKey(key)}}`), 1, 'written to database 0 of the same server');
    await store.delete(key);
    await store.close();
    await assert.rejects(store.load(key), StoreUnavailableError);
  });

  it('createStore(redis://…/1) uses the database in the URL', async () => {
    const store = createStore(`${url}/1`) as RedisStore;
    const key = newSessionKey();
    const now = Date.now();
    await store.create(key, { db: 1 }, now + 60_000, now);
    const db1 = createClient({ url: `${url}/1` });
    await db1.connect();
    try {
      assert.equal(await db1.exists(`sessionkit:{${digestKey(key)}}`), 1);
      assert.equal(await client.exists(`sessionkit:{${digestKey(key)}}`), 0);
    } finally {
      await db1.close();
      await store.close();
    }
  });

  it('createStore(redis://…) on a port where nothing listens fails fast with StoreUnavailableError and does not crash', async () => {
    const logger = recordingLogger();
    const store = createStore('redis://127.0.0.1:1/0', { logger });
    const started = Date.now();
    await assert.rejects((store as RedisStore).load(newSessionKey()), StoreUnavailableError);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    await store.close();
  });
});

describe('RedisStore on Cluster: keys of one session hash to one slot', () => {
  it('every session key carries its digest as a hash tag', async () => {
    const { rootNodes } = await clusterServers();
    const client = createCluster({ rootNodes });
    await client.connect();
    try {
      const store = new RedisStore({ client, prefix: 'slots:' });
      const keys = Array.from({ length: 30 }, () => newSessionKey());
      const now = Date.now();
      await Promise.all(keys.map((k, i) => store.create(k, { i }, now + 60_000, now)));
      // 30 random digests land on all three masters.
      const stats = await store.stats(now);
      assert.equal(stats.count, 30);
      assert.equal(stats.expired, 0);
      for (const k of keys) {
        const slot: unknown = await client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', `slots:{${digestKey(k)}}`]);
        const tagSlot: unknown = await client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', digestKey(k)]);
        assert.equal(slot, tagSlot);
      }
      const perMaster = await Promise.all(
        client.masters.map(async (m) => {
          const node = await client.nodeClient(m);
          return Number(await node.sendCommand(['DBSIZE']));
        }),
      );
      assert.ok(
        perMaster.every((n) => n > 0),
        `keys per master: ${perMaster}`,
      );
      assert.equal(await store.clearExpired(now + 61_000), 30);
      assert.equal((await store.stats(now)).count, 0);
    } finally {
      await client.close();
    }
  });
});
