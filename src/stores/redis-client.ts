/**
 * The Redis clients RedisStore accepts, and one small driver per client family behind the few
 * things the store does with them: send one command to the node that holds a key, reach every
 * master (SCAN), know whether the connection is ready, connect and close a client it owns.
 *
 * The client types are structural (the members the store uses), so a user's client fits whatever
 * its modules, scripts or RESP version, and no user has to install another client's types. No
 * client package is imported here: the family is recognised by shape, at construction.
 */
import { ConfigError } from '../core/errors.js';
import { requireOptional } from '../core/require.js';

/** Listener arguments differ per client and event. */
type Listener = (...args: any[]) => void;

interface Emitter {
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
  listenerCount(event: string): number;
}

/** A node-redis (4 or later) client: what `createClient()` returns. */
export interface NodeRedisClient extends Emitter {
  sendCommand(args: string[], options?: object): Promise<unknown>;
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
}

/** A node-redis (4 or later) Redis Cluster client: what `createCluster()` returns. */
export interface NodeRedisCluster extends Emitter {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[], options?: object): Promise<unknown>;
  readonly masters: readonly object[];
  nodeClient(node: never): unknown;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
}

/** An ioredis or iovalkey client: `new Redis(url)`. */
export interface IoredisClient extends Emitter {
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly status: string;
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** An ioredis or iovalkey Redis Cluster client: `new Redis.Cluster(nodes)`. */
export interface IoredisCluster extends IoredisClient {
  readonly isCluster: boolean;
  nodes(role?: 'master'): IoredisClient[];
}

/**
 * A Redis client RedisStore can use: node-redis 4 or later (`createClient()`, `createCluster()`),
 * ioredis (`new Redis()`, `new Redis.Cluster()`) or iovalkey (`new Redis()`), connected by the user.
 */
export type RedisStoreClient = NodeRedisClient | NodeRedisCluster | IoredisClient | IoredisCluster;

/** Sends one command to one node; `timeout` (ms) bounds how long it may wait in the client's queue. */
export type NodeSender = (args: string[], deadline: number) => Promise<unknown>;

/** What RedisStore uses of a client, whichever family it is. */
export interface RedisDriver {
  /** For messages: `node-redis` or `ioredis`. */
  readonly family: string;
  readonly cluster: boolean;
  /** Commands sent now go straight to the server. */
  readonly ready: boolean;
  /** Connected, connecting or reconnecting: false before the first connect and after a close. */
  readonly open: boolean;
  /**
   * One command on the node that holds `key` (any node when undefined). A command the client
   * still holds back (offline, reconnecting) is dropped once `deadline` (ms since the epoch)
   * passes, so a request that already failed cannot write later.
   */
  send(key: string | undefined, readonly: boolean, args: string[], deadline: number): Promise<unknown>;
  /** One sender per master: the client itself when it is not a Cluster. */
  masters(): Promise<NodeSender[]>;
  /** Starts connecting; failures arrive as 'error' events. */
  connect(): void;
  /** Closes gracefully (pending replies arrive first). */
  quit(): Promise<unknown>;
  /** Closes at once. */
  destroy(): void;
  on(event: 'ready' | 'error', listener: Listener): void;
  off(event: 'ready' | 'error', listener: Listener): void;
  listenerCount(event: 'error'): number;
}

const ACCEPTED =
  'give a connected Redis client: createClient() or createCluster() from redis (node-redis 4 or later), new Redis() or new Redis.Cluster() from ioredis, or new Redis() from iovalkey';

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object' && typeof value !== 'function') return `a ${typeof value}`;
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object that is none of these';
}

/** The driver for `client`, recognised by shape; anything else is a ConfigError naming what is accepted. */
export function driverFor(client: unknown, timeout: number): RedisDriver {
  const c = client as Record<string, unknown> | null | undefined;
  if (c && (typeof c === 'object' || typeof c === 'function')) {
    if (typeof c.call === 'function' && typeof c.status === 'string' && typeof c.on === 'function') {
      return new IoredisDriver(client as IoredisClient | IoredisCluster);
    }
    if (typeof c.sendCommand === 'function' && typeof c.on === 'function' && typeof c.isOpen === 'boolean') {
      if ((c.options as { legacyMode?: boolean } | undefined)?.legacyMode === true) {
        throw new ConfigError('client', 'a node-redis client in legacyMode has a callback API; create it without legacyMode: true');
      }
      return new NodeRedisDriver(client as NodeRedisClient | NodeRedisCluster, timeout);
    }
  }
  throw new ConfigError('client', `${ACCEPTED}; got ${describe(client)}`);
}

/** How a node-redis client closes: `close` and `destroy` from version 5, `quit` and `disconnect` in version 4. */
type NodeRedisClosing = { close(): Promise<unknown>; destroy(): void } | { quit(): Promise<unknown>; disconnect(): Promise<unknown> };

/** node-redis 5 and later: no client-side timeout on a command (0 turns it off). */
const NO_CLIENT_TIMEOUT = Object.freeze({ timeout: 0 });

/** node-redis 4, 5 and later, standalone or Cluster. */
class NodeRedisDriver implements RedisDriver {
  readonly family = 'node-redis';
  readonly cluster: boolean;
  readonly #client: NodeRedisClient & NodeRedisCluster & NodeRedisClosing;
  /** node-redis 4 drops a queued command on an AbortSignal; 5 and later take a timeout. */
  readonly #v4: boolean;

  /**
   * What a command sent while the client is ready carries. node-redis 6 bounds how long each
   * command may wait to be written (5 s unless `commandOptions.timeout` says otherwise) with an
   * AbortSignal.timeout and a listener per command: about 10 µs of CPU, several times the
   * command itself, for a wait that lasts until the next write of a ready client (under a
   * millisecond). The store bounds every command with its own timeout, so it turns the client's
   * off for its own commands (`timeout: 0`), unless the user chose one shorter than the store's.
   */
  readonly #readyOptions: object | undefined;

  constructor(client: NodeRedisClient | NodeRedisCluster, storeTimeout: number) {
    this.#client = client as NodeRedisClient & NodeRedisCluster & NodeRedisClosing;
    this.cluster = Array.isArray((client as NodeRedisCluster).masters);
    this.#v4 = typeof (client as { close?: unknown }).close !== 'function';
    const own = (client as { options?: { commandOptions?: { timeout?: unknown } } }).options?.commandOptions?.timeout;
    this.#readyOptions = this.#v4 || (typeof own === 'number' && own > 0 && own < storeTimeout) ? undefined : NO_CLIENT_TIMEOUT;
  }

  get ready(): boolean {
    const c = this.#client as { isReady?: boolean; isOpen: boolean };
    return c.isReady ?? c.isOpen;
  }

  get open(): boolean {
    return this.#client.isOpen;
  }

  #options(deadline: number): object {
    const ms = Math.max(1, deadline - Date.now());
    return this.#v4 ? { signal: AbortSignal.timeout(ms) } : { timeout: ms };
  }

  send(key: string | undefined, readonly: boolean, args: string[], deadline: number): Promise<unknown> {
    const c = this.#client;
    // A Cluster may be reconnecting one node while it is ready as a whole: always bound the queue.
    if (this.cluster) return c.sendCommand(key, readonly, args, this.#options(deadline));
    return (c as NodeRedisClient).sendCommand(args, c.isReady ? this.#readyOptions : this.#options(deadline));
  }

  async masters(): Promise<NodeSender[]> {
    if (!this.cluster) return [(args, deadline) => this.send(undefined, true, args, deadline)];
    const senders: NodeSender[] = [];
    for (const master of this.#client.masters as { client?: NodeRedisClient }[]) {
      const node = master.client?.isReady === true ? master.client : ((await this.#client.nodeClient(master as never)) as NodeRedisClient);
      senders.push((args, deadline) => node.sendCommand(args, node.isReady ? undefined : this.#options(deadline)));
    }
    return senders;
  }

  connect(): void {
    this.#client.connect().catch(() => {}); // failures arrive as 'error' events
  }

  quit(): Promise<unknown> {
    const c = this.#client;
    return 'close' in c ? c.close() : c.quit();
  }

  destroy(): void {
    const c = this.#client;
    if ('destroy' in c) c.destroy();
    else c.disconnect().catch(() => {});
  }

  on(event: string, listener: Listener): void {
    this.#client.on(event, listener);
  }
  off(event: string, listener: Listener): void {
    this.#client.off(event, listener);
  }
  listenerCount(event: string): number {
    return this.#client.listenerCount(event);
  }
}

interface Waiter {
  deadline: number;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * ioredis and iovalkey (its fork), standalone or Cluster. Their offline queue cannot drop a
 * command on a deadline, so while the client is not ready the driver waits for 'ready' itself
 * and sends only if the deadline has not passed.
 */
class IoredisDriver implements RedisDriver {
  readonly family = 'ioredis';
  readonly cluster: boolean;
  readonly #client: IoredisClient & Partial<IoredisCluster>;
  #waiters: Waiter[] = [];

  constructor(client: IoredisClient | IoredisCluster) {
    this.#client = client;
    this.cluster = (client as IoredisCluster).isCluster === true && typeof (client as IoredisCluster).nodes === 'function';
    client.on('ready', () => {
      const now = Date.now();
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) {
        if (w.deadline > now) w.resolve();
        else w.reject(new Error('the connection became ready after the timeout'));
      }
    });
  }

  get ready(): boolean {
    return this.#client.status === 'ready';
  }

  get open(): boolean {
    const status = this.#client.status;
    return status !== 'wait' && status !== 'end';
  }

  #call(args: string[]): Promise<unknown> {
    return this.#client.call(...(args as [string, ...string[]]));
  }

  send(_key: string | undefined, _readonly: boolean, args: string[], deadline: number): Promise<unknown> {
    const status = this.#client.status;
    if (status === 'ready') return this.#call(args);
    if (status === 'end') return Promise.reject(new Error('the Redis client was closed (quit or disconnect)'));
    // A client made with lazyConnect connects on its first command, as ioredis itself would.
    if (status === 'wait') this.connect();
    const now = Date.now();
    // Waiters whose deadline passed already answered their request (StoreUnavailableError).
    while (this.#waiters.length > 0 && this.#waiters[0]!.deadline <= now) this.#waiters.shift()!.reject(new Error('timed out'));
    return new Promise<void>((resolve, reject) => this.#waiters.push({ deadline, resolve, reject })).then(() => this.#call(args));
  }

  async masters(): Promise<NodeSender[]> {
    if (!this.cluster) return [(args, deadline) => this.send(undefined, true, args, deadline)];
    return this.#client.nodes!('master').map((node) => (args: string[]) => node.call(args[0]!, ...args.slice(1)));
  }

  connect(): void {
    this.#client.connect().catch(() => {}); // failures arrive as 'error' events
  }

  quit(): Promise<unknown> {
    return this.#client.quit();
  }

  destroy(): void {
    this.#client.disconnect();
  }

  on(event: string, listener: Listener): void {
    this.#client.on(event, listener);
  }
  off(event: string, listener: Listener): void {
    this.#client.off(event, listener);
  }
  listenerCount(event: string): number {
    return this.#client.listenerCount(event);
  }
}

interface NodeRedisModule {
  createClient(options: object): NodeRedisClient;
}
type IoredisConstructor = new (url: string, options: object) => IoredisClient;

/**
 * A client for `url` (`redis://host:port/db`, `rediss://…` for TLS) from the first Redis client
 * package installed: redis (node-redis), else ioredis, else iovalkey. It is not connected yet and
 * queues nothing while it is down, so a request fails at once instead of waiting in a queue.
 */
export function clientFromUrl(url: string, timeout: number): RedisStoreClient {
  const load = (name: string): unknown => {
    try {
      return requireOptional(name);
    } catch {
      return undefined;
    }
  };
  const redis = load('redis') as NodeRedisModule | undefined;
  if (redis) return redis.createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: timeout } });
  for (const name of ['ioredis', 'iovalkey']) {
    const mod = load(name) as (IoredisConstructor & { Redis?: IoredisConstructor; default?: IoredisConstructor }) | undefined;
    if (!mod) continue;
    const Redis = mod.Redis ?? mod.default ?? mod;
    return new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeout,
    });
  }
  throw new ConfigError('store', 'a redis:// store needs a Redis client package: npm install redis (or ioredis, or iovalkey)');
}
