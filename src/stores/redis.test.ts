import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createClient, createCluster } from 'redis';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { hashing } from '../core/crypto.js';
import { digestKey, newSessionKey } from '../core/keys.js';
import { describeStore, recordingLogger } from '../testing/store-suite.js';
import { startCluster, startRedis, stopAll, type RedisCluster, type RedisServer } from '../../test/support/redis.js';
import { redisClients } from '../../test/support/redis-clients.js';
import { CachedStore } from './cached.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import { createStore } from './url.js';

let standalone: Promise<RedisServer> | undefined;
let cluster: Promise<RedisCluster> | undefined;
const server = () => (standalone ??= startRedis());
const clusterServers = () => (cluster ??= startCluster());

after(stopAll);

const _execFileAsync = promisify(execFile);
const connectTo = (url: string) => createClient({ url });
type Client = ReturnType<typeof connectTo>;

/** Every key and value under the prefix, on every node. */
async function dumpKeys(clients: Client[], prefix: string): Promise<string> {
  const out: Record<string, string | null> = {};
  for (const c of clients) {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const k of keys) {
        // a user's set of session ids (accounts and devices) beside the session strings
        out[k] = (await c.type(k)) === 'set' ? JSON.stringify(await c.sMembers(k)) : ((await c.get(k)) as string | null);
      }
    }
  }
  return JSON.stringify(out);
}

redisClients.forEach((kind, i) => {
  describeStore(`RedisStore (${kind.name}) on a standalone redis-server`, {
    selfExpiring: true,
    async setup(logger) {
      const { url } = await server();
      const [a, b] = await Promise.all([kind.connect(url), kind.connect(url)]);
      const peek = createClient({ url });
      await peek.connect();
      const prefix = `suite${i}:`;
      return {
        store: new RedisStore({ client: a.client, prefix, logger }),
        peer: new RedisStore({ client: b.client, prefix, logger }),
        corrupt: async (key) => void (await peek.set(`${prefix}{${digestKey(key)}}`, '\u0000garbage', { KEEPTTL: true } as any)),
        dumpAtRest: () => dumpKeys([peek], prefix),
        close: async () => {
          await Promise.all([a.close(), b.close(), peek.close()]);
        },
      };
    },
  });

  const { connectCluster } = kind;
  if (!connectCluster) return;
  describeStore(`RedisStore (${kind.name}) on a 3-master Redis Cluster`, {
    selfExpiring: true,
    async setup(logger) {
      const { nodes } = await clusterServers();
      const urls = nodes.map((n) => n.url);
      const [a, b] = await Promise.all([connectCluster(urls), connectCluster(urls)]);
      const direct = nodes.map((n) => createClient({ url: n.url }));
      await Promise.all(direct.map((c) => c.connect()));
      const peek = createCluster({ rootNodes: urls.map((url) => ({ url })) });
      await peek.connect();
      const prefix = `suite${i}:`;
      return {
        store: new RedisStore({ client: a.client, prefix, logger }),
        peer: new RedisStore({ client: b.client, prefix, logger }),
        corrupt: async (key) => void (await peek.set(`${prefix}{${digestKey(key)}}`, 'not json at all', { KEEPTTL: true } as any)),
        dumpAtRest: () => dumpKeys(direct, prefix),
        close: async () => {
          await Promise.all([a.close(), b.close(), peek.close(), ...direct.map((c) => c.close())]);
        },
      };
    },
  });
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
    assert.equal(await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now }), 1);
    const redisKey = `ttl:{${digestKey(key)}}`;
    const pttl = await client.pTTL(redisKey);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `PTTL ${pttl}`);
    assert.deepEqual(JSON.parse((await client.get(redisKey)) as string), { v: 1, e: now + 60_000, s: now, d: { a: 1 } });
    const r = await store.update({ key, data: { a: 2 }, expiresAt: now + 5_000, expectedVersion: 1, now });
    assert.deepEqual(r, { status: 'ok', version: 2 });
    assert.ok((await client.pTTL(redisKey)) <= 5_000, 'an update moves the TTL with the expiry');
  });

  it("a signed-in session's id is in its user's set, hash-tagged by the user, which lives as long as the session", async () => {
    const store = new RedisStore({ client, prefix: 'idx:' });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { _session_meta: { since: now, user: 'ada{x}' } }, expiresAt: now + 60_000, now });
    const set = `idx:user:{${createHash('sha256').update('ada{x}').digest('hex')}}`;
    assert.deepEqual(await client.sMembers(set), [digestKey(key)]);
    const pttl = await client.pTTL(set);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `PTTL ${pttl}`);
    assert.equal(await store.touch(key, now + 120_000, now + 1000, 'ada{x}'), true);
    assert.ok((await client.pTTL(set)) > 110_000, 'a touch keeps the set alive as long as the session');
    const value = JSON.parse((await client.get(`idx:{${digestKey(key)}}`)) as string);
    assert.deepEqual([value.v, value.e, value.s], [1, now + 120_000, now + 1000], 'a touch keeps the version');
    await store.delete(key);
    assert.deepEqual(await store.listByUser('ada{x}', now), []);
    assert.deepEqual(await client.sMembers(set), [], 'the listing dropped the id of the deleted session');
  });

  it('the default prefix is sessionkit:', async () => {
    const store = new RedisStore({ client });
    const key = newSessionKey();
    await store.create({ key, data: { a: 1 }, expiresAt: Date.now() + 60_000 });
    assert.equal(await client.exists(`sessionkit:{${digestKey(key)}}`), 1);
    await store.delete(key);
  });

  it('a write that is already expired leaves nothing in Redis', async () => {
    const store = new RedisStore({ client, prefix: 'past:' });
    const key = newSessionKey();
    const now = Date.now();
    assert.equal(await store.create({ key, data: { a: 1 }, expiresAt: now - 1, now }), 1);
    assert.equal(await store.exists(key), false);
    assert.equal(await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now }), 1);
    assert.deepEqual(await store.update({ key, data: { a: 2 }, expiresAt: now - 1, expectedVersion: 1, now }), {
      status: 'ok',
      version: 2,
    });
    assert.equal(await store.exists(key), false);
  });

  it('a record expired by the injected clock is missing for load and update, and clearExpired removes it', async () => {
    const store = new RedisStore({ client, prefix: 'clock:' });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    const later = now + 61_000;
    assert.equal(await store.load(key, later), null);
    assert.deepEqual(await store.update({ key, data: { a: 2 }, expiresAt: later + 60_000, expectedVersion: 1, now: later }), {
      status: 'missing',
    });
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
    assert.deepEqual(await store.update({ key, data: { ok: true }, expiresAt: now + 60_000, expectedVersion: 7, now }), {
      status: 'ok',
      version: 8,
    });
    assert.deepEqual((await store.load(key, now))!.data, { ok: true });
  });

  it("hashes a session's key once for its load and save, also between other requests, and keeps the Redis keys of the latest 4096 sessions only", async () => {
    const store = new RedisStore({ client, prefix: 'hashed:' });
    const sha256Hex = hashing.sha256Hex;
    let hashed = 0;
    hashing.sha256Hex = (text) => {
      hashed++;
      return sha256Hex(text);
    };
    try {
      // Requests in parallel: each loads its session, then saves it.
      const [key, other] = [newSessionKey(), newSessionKey()];
      const now = Date.now();
      assert.equal(await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now }), 1);
      assert.equal(await store.create({ key: other, data: { b: 1 }, expiresAt: now + 60_000, now }), 1);
      const [found, otherFound] = await Promise.all([store.load(key, now), store.load(other, now)]);
      assert.deepEqual(await store.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: found!.version, now }), {
        status: 'ok',
        version: 2,
      });
      assert.deepEqual(
        await store.update({ key: other, data: { b: 2 }, expiresAt: now + 60_000, expectedVersion: otherFound!.version, now }),
        { status: 'ok', version: 2 },
      );
      assert.equal(hashed, 2);
      await Promise.all(Array.from({ length: 4096 }, () => store.load(newSessionKey(), now)));
      hashed = 0;
      assert.deepEqual((await store.load(key, now))!.data, { a: 2 });
      assert.equal(hashed, 1, 'the oldest key was let go');
    } finally {
      hashing.sha256Hex = sha256Hex;
    }
  });

  it('revoke deletes a session by its public id and says whether it existed', async () => {
    const store = new RedisStore({ client, prefix: 'revoke:' });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now });
    assert.equal(await store.revoke(digestKey(key)), true);
    assert.equal(await store.load(key, now), null);
    assert.equal(await store.revoke(digestKey(key)), false);
    assert.equal(await store.revoke('not-an-id'), false);
  });

  it('a CachedStore over a Redis cache does not serve a revoked session from the cache', async () => {
    const cache = new RedisStore({ client, prefix: 'cached-revoke:' });
    const store = new CachedStore({ cache, store: new MemoryStore() });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { _auth_user_id: '1' }, expiresAt: now + 60_000, now });
    assert.ok(await cache.load(key, now), 'cached');
    assert.equal(await store.revoke(digestKey(key)), true);
    assert.equal(await cache.load(key, now), null, 'the cache entry is gone');
    assert.equal(await store.load(key, now), null);
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

  it('RedisStore.fromUrl connects on the first request and close() quits the client it made', async () => {
    const connections = async () => Number(/connected_clients:(\d+)/.exec(await client.info('clients'))![1]);
    const before = await connections();
    const store = RedisStore.fromUrl(`${url}/0`, { prefix: 'fromurl:' });
    assert.ok(store instanceof RedisStore);
    assert.equal(await connections(), before, 'no connection before the first request');
    const key = newSessionKey();
    const now = Date.now();
    assert.equal(await store.create({ key, data: { via: 'fromUrl' }, expiresAt: now + 60_000, now }), 1);
    assert.equal(await client.exists(`fromurl:{${digestKey(key)}}`), 1, 'the prefix option is honoured');
    assert.equal(await connections(), before + 1);
    await store.close();
    assert.equal(await connections(), before, 'close() quit its own client');
    await assert.rejects(store.load(key), StoreUnavailableError);
  });

  it('RedisStore.fromUrl rejects what is not a Redis URL, and bad options, with ConfigError', () => {
    for (const bad of ['http://127.0.0.1:6379', '127.0.0.1:6379', '', undefined]) {
      assert.throws(
        () => RedisStore.fromUrl(bad as string),
        (err: unknown) => err instanceof ConfigError && err.option === 'url',
      );
    }
    assert.throws(
      () => RedisStore.fromUrl(url, { timeout: -1 }),
      (err: unknown) => err instanceof ConfigError && err.option === 'timeout',
    );
  });

  it('createStore(redis://…) connects lazily, round-trips a session, and close() quits its own client', async () => {
    const store = createStore(`${url}/0`) as RedisStore;
    assert.ok(store instanceof RedisStore);
    const key = newSessionKey();
    const now = Date.now();
    assert.equal(await store.create({ key, data: { via: 'url' }, expiresAt: now + 60_000, now }), 1);
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
    await store.create({ key, data: { db: 1 }, expiresAt: now + 60_000, now });
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
      await Promise.all(keys.map((k, i) => store.create({ key: k, data: { i }, expiresAt: now + 60_000, now })));
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
