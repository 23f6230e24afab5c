/**
 * Every Redis client RedisStore accepts, each able to connect to a standalone server or a Cluster
 * started by ./redis.ts, so one test runs on all of them: node-redis (the installed major, and 4
 * and 5 through the `redis4` and `redis5` aliases), ioredis (6, and 5 as `ioredis5`) and iovalkey.
 * Cluster runs on the installed node-redis, node-redis 4 and ioredis.
 */
import { once } from 'node:events';
import { Cluster as IoredisCluster, Redis as Ioredis } from 'ioredis';
import { Redis as Ioredis5 } from 'ioredis5';
import { Redis as Iovalkey, type Cluster as IovalkeyCluster } from 'iovalkey';
import { createClient, createCluster } from 'redis';
import { createClient as createClient4, createCluster as createCluster4 } from 'redis4';
import { createClient as createClient5 } from 'redis5';
import type { RedisStoreClient } from '../../src/stores/redis.js';

export interface ConnectedClient {
  client: RedisStoreClient;
  close(): Promise<void>;
}

export interface RedisClientKind {
  name: string;
  /** Connects to one server with the client's default options (offline queue, no 'error' listener). */
  connect(url: string): Promise<ConnectedClient>;
  /** Connects to a Cluster through its nodes' URLs; absent where the suite does not run it on Cluster. */
  connectCluster?(urls: string[]): Promise<ConnectedClient>;
}

const hostPort = (url: string) => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
};

/** ioredis and iovalkey connect on construction: wait for 'ready' (or the first error). */
async function ready<T extends Ioredis | IoredisCluster | Ioredis5 | Iovalkey | IovalkeyCluster>(client: T): Promise<ConnectedClient> {
  if (client.status !== 'ready') await once(client, 'ready');
  return { client, close: async () => void (await client.quit()) };
}

export const redisClients: RedisClientKind[] = [
  {
    name: 'node-redis',
    async connect(url) {
      const client = createClient({ url });
      await client.connect();
      return { client, close: () => client.close() };
    },
    async connectCluster(urls) {
      const client = createCluster({ rootNodes: urls.map((url) => ({ url })) });
      await client.connect();
      return { client, close: () => client.close() };
    },
  },
  {
    name: 'node-redis 4',
    async connect(url) {
      const client = createClient4({ url });
      await client.connect();
      return { client, close: async () => void (await client.quit()) };
    },
    async connectCluster(urls) {
      const client = createCluster4({ rootNodes: urls.map((url) => ({ url })) });
      await client.connect();
      return { client, close: () => client.quit() };
    },
  },
  {
    name: 'node-redis 5',
    async connect(url) {
      const client = createClient5({ url });
      await client.connect();
      return { client, close: () => client.close() };
    },
  },
  {
    name: 'ioredis',
    connect: (url) => ready(new Ioredis(url)),
    connectCluster: (urls) => ready(new IoredisCluster(urls.map(hostPort))),
  },
  {
    name: 'ioredis 5',
    connect: (url) => ready(new Ioredis5(url)),
  },
  {
    name: 'iovalkey',
    connect: (url) => ready(new Iovalkey(url)),
  },
];
