import { consoleLogger, type Logger } from '../core/log.js';
import type { SessionData } from '../core/codec.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { hashing, utf8Length } from '../core/crypto.js';
import { digestKey } from '../core/keys.js';
import { clientFromUrl, driverFor, type NodeSender, type RedisDriver } from './redis-client.js';
import type {
  SessionStore,
  StoreCapabilities,
  StoreCreate,
  StoredSession,
  StoreStats,
  StoreUpdate,
  UpdateResult,
  UserIndexedStore,
} from '../core/store.js';
import { type IndexedSession, userIdOf } from '../core/accounts.js';
import * as wire from './redis-wire.js';

export type { IoredisClient, IoredisCluster, NodeRedisClient, NodeRedisCluster, RedisStoreClient } from './redis-client.js';

export type { RedisStoreOptions } from './redis-wire.js';

/*
 * The value of one session key is JSON text that always starts `{"v":VERSION,"e":EXPIRES_AT,"d":`
 * (or, with the time it was last seen, `{"v":VERSION,"e":EXPIRES_AT,"s":LAST_SEEN,"d":`)
 * followed by the session data. Both this file and the Lua script below read the version and the
 * expiry from that fixed prefix, so they always agree on the version of a value, even a corrupt
 * one (no prefix: version 0), and a save after corruption overwrites it by compare-and-set.
 */
/**
 * Sessions in Redis, standalone or Cluster: one string key per session,
 * `{prefix}{{sha256 of the session key}}`, whose TTL is the session's expiry, so Redis itself
 * forgets expired sessions. New sessions are written create-only (`SET NX`), saves are a
 * compare-and-set on the version in a Lua script, so parallel requests never lose each other's
 * changes and a session deleted elsewhere is never brought back.
 */
export class RedisStore implements SessionStore, UserIndexedStore {
  readonly #client: RedisDriver;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #timeout: number;
  /** How long one command may take, in milliseconds, before StoreUnavailableError (the `timeout` option). */
  readonly timeout: number;
  readonly capabilities: StoreCapabilities = { userIndex: true, synchronous: false, keysInClear: false, selfExpiring: true };
  /** Set by fromUrl for the client it created: connected lazily, closed by close(). */
  #owned = false;
  /** For an owned client: the last error message while it is down, null while it is up. */
  #down: string | null = null;
  #waiting: Promise<void> | null = null;
  /** Commands in flight, each with its deadline. */
  readonly #pending = new Set<wire.Pending>();
  #sweeper: NodeJS.Timeout | null = null;
  /** Session key → Redis key, the latest KEYS_KEPT (#redisKey). */
  readonly #keys = new Map<string, string>();
  #errorLogged = false;
  #closed = false;

  /**
   * A RedisStore over its own client for `url` (`redis://host:port/db`, `rediss://…` for TLS),
   * made from the first Redis client package installed: redis (node-redis), else ioredis, else
   * iovalkey. The client connects on the first request and queues nothing while Redis is down, so
   * requests then fail at once with StoreUnavailableError; `close()` closes it.
   */
  static fromUrl(url: string, options: Omit<wire.RedisStoreOptions, 'client'> = {}): RedisStore {
    if (typeof url !== 'string' || !/^rediss?:\/\//i.test(url))
      throw new ConfigError('url', `${JSON.stringify(url)} is not a Redis URL; write e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)`);
    const timeout = wire.checkTimeout(options.timeout);
    const store = new RedisStore({ ...options, timeout, client: clientFromUrl(url, timeout) });
    store.#own();
    return store;
  }

  constructor(options: wire.RedisStoreOptions) {
    const timeout = wire.checkTimeout(options?.timeout);
    const client = driverFor(options?.client, timeout);
    const prefix = options.prefix ?? 'sessionkit:';
    if (typeof prefix !== 'string') throw new ConfigError('prefix', 'give the key prefix as a string, e.g. "sessionkit:"');
    if (/[{}]/.test(prefix))
      throw new ConfigError(
        'prefix',
        `${JSON.stringify(prefix)} contains { or }, which would change how Redis Cluster hashes the keys; leave braces out`,
      );
    this.#timeout = timeout;
    this.timeout = timeout;
    this.#client = client;
    this.#prefix = prefix;
    this.#logger = options.logger ?? consoleLogger;
    // Clients emit 'error' on every lost connection and reconnect attempt; an EventEmitter
    // without an 'error' listener throws, which would crash the process.
    if (client.listenerCount('error') === 0) {
      client.on('error', (err: Error) => {
        if (this.#errorLogged) return;
        this.#errorLogged = true; // once per outage; reset by the next command that succeeds
        this.#logger.error('Redis client error; requests get StoreUnavailableError until it reconnects', { error: err?.message });
      });
    }
  }

  /** Takes ownership of the client fromUrl made: tracks whether it is down, so requests fail fast. */
  #own(): void {
    this.#owned = true;
    this.#client.on('ready', () => void (this.#down = null));
    this.#client.on('error', (err: Error) => void (this.#down = err?.message ?? String(err)));
  }

  /**
   * `{prefix}{sha256 of key}`. The Redis keys of the sessions seen lately are kept, so a load and
   * the save after it (and the next request of the same visitor) hash the key once: a SHA-256
   * costs more than the map lookup. Process memory is not at rest; Redis only ever sees digests.
   */
  #redisKey(key: string): string {
    const keys = this.#keys;
    let id = keys.get(key);
    if (id === undefined) {
      id = `${this.#prefix}{${digestKey(key)}}`;
      if (keys.size >= wire.KEYS_KEPT) keys.delete(keys.keys().next().value!);
      keys.set(key, id);
    }
    return id;
  }

  /**
   * The set of a user's session ids: `{prefix}user:{<sha256 of the user id>}`. Its own hash tag, so
   * in a Cluster it sits in one slot whatever the user id holds; outside the `{prefix}{…}` pattern
   * that clearExpired and stats scan.
   */
  #userKey(userId: string): string {
    return `${this.#prefix}user:{${hashing.sha256Hex(userId)}}`;
  }

  /** Puts a session in its user's set; the set lives as long as the user's longest session. */
  #index(user: string, key: string, ttl: number): Promise<unknown> {
    const set = this.#userKey(user);
    return this.#script('index', set, ['EVALSHA', wire.INDEX_SHA, '1', set, digestKey(key), String(ttl)], wire.INDEX_SCRIPT);
  }

  /**
   * For a client this store owns: connects it on first use and waits (bounded by the timeout) until
   * it is ready. While it is known to be down (an 'error' since the last 'ready') requests fail at
   * once instead of each waiting out the timeout; the client keeps reconnecting in the background.
   */
  #ready(): Promise<void> | null {
    const client = this.#client;
    if (!this.#owned || client.ready) return null;
    if (!client.open) {
      this.#down = null;
      client.connect();
    } else if (this.#down) {
      return Promise.reject(
        new StoreUnavailableError(`Redis is unreachable (${this.#down}); check that it is running, or the URL given to the store`),
      );
    }
    // One wait shared by every request that arrives while connecting: one pair of listeners.
    this.#waiting ??= new Promise<void>((resolve, reject) => {
      const settle = (err?: Error) => {
        client.off('ready', onReady);
        client.off('error', onError);
        this.#waiting = null;
        if (err)
          reject(
            new StoreUnavailableError(`cannot connect to Redis: ${err.message}; check that it is running, or the URL given to the store`, {
              cause: err,
            }),
          );
        else resolve();
      };
      const onReady = () => settle();
      const onError = (err: Error) => settle(err);
      client.on('ready', onReady);
      client.on('error', onError);
    });
    return this.#waiting;
  }

  /** One command on the node that holds `key` (or any node when `key` is undefined), bounded by the timeout. */
  #send(what: string, key: string | undefined, readonly: boolean, args: string[], on?: NodeSender): Promise<unknown> {
    return this.#run(what, key, readonly, args, wire.same, undefined, on);
  }

  /**
   * As #send, with the reply turned into the result by `decode` (which may throw) in the same
   * step, so a load or update costs one promise of the store's own. `args` is an EVALSHA when
   * `script` is given: sent again as EVAL of it when the server (or this Cluster node) has not
   * seen the script yet.
   */
  #run<T>(
    what: string,
    key: string | undefined,
    readonly: boolean,
    args: string[],
    decode: (reply: unknown) => T | PromiseLike<T>,
    script?: string,
    on?: NodeSender,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError(`RedisStore ${what}: the store is closed; create a new one`));
    const deadline = Date.now() + this.#timeout;
    const ready = this.#ready();
    if (ready) {
      return this.#bounded(what, ready, deadline).then(() => this.#dispatch(what, key, readonly, args, decode, script, on, deadline));
    }
    return this.#dispatch(what, key, readonly, args, decode, script, on, deadline);
  }

  #dispatch<T>(
    what: string,
    key: string | undefined,
    readonly: boolean,
    args: string[],
    decode: (reply: unknown) => T | PromiseLike<T>,
    script: string | undefined,
    on: NodeSender | undefined,
    deadline: number,
  ): Promise<T> {
    let reply: Promise<unknown>;
    try {
      reply = on ? on(args, deadline) : this.#client.send(key, readonly, args, deadline);
    } catch (err) {
      return Promise.reject(wire.unavailable(what, err));
    }
    const retry =
      script === undefined
        ? undefined
        : (err: unknown): Promise<T> | null => {
            if (!String((err as Error | undefined)?.message).startsWith('NOSCRIPT')) return null;
            const again = args.slice();
            again[0] = 'EVAL';
            again[1] = script;
            return this.#run(what, key, readonly, again, decode, undefined, on);
          };
    return this.#bounded(what, reply, deadline, decode, retry);
  }

  /**
   * `promise` (its value through `decode`), or StoreUnavailableError once `deadline` passes. One
   * sweeping interval serves every command in flight, instead of a timer each: this sits on the
   * path of every request. `retry` may answer a failure with another attempt instead.
   */
  #bounded<T>(
    what: string,
    promise: Promise<unknown>,
    deadline: number = Date.now() + this.#timeout,
    decode: (value: unknown) => T | PromiseLike<T> = wire.same as (value: unknown) => T,
    retry?: (err: unknown) => Promise<T> | null,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: wire.Pending = { deadline, what, reject };
      this.#pending.add(entry);
      if (this.#sweeper === null) this.#startSweeper();
      promise.then(
        (value) => {
          this.#pending.delete(entry);
          this.#errorLogged = false;
          try {
            resolve(decode(value));
          } catch (err) {
            reject(err);
          }
        },
        (err: unknown) => {
          this.#pending.delete(entry);
          const again = retry?.(err);
          if (again) resolve(again);
          else reject(wire.unavailable(what, err));
        },
      );
    });
  }

  #startSweeper(): void {
    const tick = Math.max(5, Math.min(100, Math.ceil(this.#timeout / 10)));
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const entry of this.#pending) {
        if (entry.deadline > now) continue;
        this.#pending.delete(entry);
        entry.reject(
          new StoreUnavailableError(
            `Redis did not answer ${entry.what} within ${this.#timeout} ms; check that Redis is running and reachable, or raise the RedisStore timeout option`,
          ),
        );
      }
      if (this.#pending.size === 0) {
        clearInterval(this.#sweeper!);
        this.#sweeper = null;
      }
    }, tick);
    this.#sweeper.unref();
  }

  /** `args`, an EVALSHA of `script`, as EVAL when the server (or this Cluster node) has not seen the script yet. */
  #script<T = unknown>(what: string, key: string, args: string[], script: string, decode?: (reply: unknown) => T): Promise<T> {
    return this.#run(what, key, false, args, decode ?? (wire.same as (reply: unknown) => T), script);
  }

  load(key: string, now = Date.now()): Promise<StoredSession | null> {
    try {
      const id = this.#redisKey(key);
      return this.#run('load', id, true, ['GET', id], (text) => this.#loaded(id, text as string | null | undefined, now));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #loaded(id: string, text: string | null | undefined, now: number): StoredSession | null | Promise<StoredSession> {
    if (text === null || text === undefined) return null;
    const value = wire.decodeValue(text, now);
    if (value === null || !('corrupt' in value)) return value;
    // Garbage under the key: an empty session, logged, with the version the update script also
    // reads from it, so the next save overwrites it.
    this.#logger.warn('session data corrupted; reading it as an empty session', { where: 'RedisStore' });
    return this.#send('load', id, true, ['PTTL', id]).then((reply) => {
      const ttl = Number(reply);
      const expiresAt = value.expiresAt ?? (ttl > 0 ? now + ttl : Number.MAX_SAFE_INTEGER);
      return { data: {}, expiresAt, version: value.version ?? 0 };
    });
  }

  async create({ key, data, expiresAt, now = Date.now(), json }: StoreCreate): Promise<number | null> {
    const id = this.#redisKey(key);
    const ttl = Math.ceil(expiresAt - now);
    if (ttl <= 0) {
      // Already expired: nothing to keep. The key is still create-only.
      return (await this.#send('create', id, true, ['EXISTS', id])) === 1 ? null : 1;
    }
    const set = this.#send('create', id, false, ['SET', id, wire.encodeValue(1, expiresAt, data, now, json), 'NX', 'PX', String(ttl)]);
    const user = userIdOf(data);
    const reply = user === null ? await set : (await Promise.all([set, this.#index(user, key, ttl)]))[0];
    return reply === null || reply === undefined ? null : 1;
  }

  update(write: StoreUpdate): Promise<UpdateResult> {
    try {
      const { key, data, expiresAt, expectedVersion, now = Date.now(), json } = write;
      const id = this.#redisKey(key);
      const ttl = Math.ceil(expiresAt - now);
      const value = wire.encodeValue(expectedVersion + 1, expiresAt, data, now, json);
      const args = ['EVALSHA', wire.UPDATE_SHA, '1', id, String(expectedVersion), String(now), String(ttl), value];
      const saved = this.#script('update', id, args, wire.UPDATE_SCRIPT, wire.updateResult);
      const user = ttl > 0 ? userIdOf(data) : null;
      if (user === null) return saved;
      return Promise.all([saved, this.#index(user, key, ttl)]).then(wire.first);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async delete(key: string): Promise<void> {
    const id = this.#redisKey(key);
    await this.#send('delete', id, false, ['DEL', id]);
  }

  /**
   * Deletes the session whose public id is `id` (`digestKey(key)`, the hash tag of its Redis key);
   * true when it existed. With it a CachedStore drops a revoked session from a Redis cache.
   */
  async revoke(id: string): Promise<boolean> {
    if (!/^[0-9a-f]{64}$/.test(id)) return false;
    const redisKey = `${this.#prefix}{${id}}`;
    return (await this.#send('revoke', redisKey, false, ['DEL', redisKey])) === 1;
  }

  // Accounts and devices: a per-user set of session ids beside the sessions. A session deleted,
  // revoked or expired since leaves its id in the set until the user's next listUserSessions
  // (which drops it) or until the set expires with the user's longest-lived session.

  async touch(key: string, expiresAt: number, now: number, userId?: string | null): Promise<boolean> {
    const id = this.#redisKey(key);
    const ttl = Math.ceil(expiresAt - now);
    if (ttl <= 0) return false;
    const args = ['EVALSHA', wire.TOUCH_SHA, '1', id, String(now), String(expiresAt), String(ttl), String(Math.floor(now))];
    const reply = await this.#script('touch', id, args, wire.TOUCH_SCRIPT);
    if (reply !== 1) return false;
    if (userId) await this.#index(userId, key, ttl);
    return true;
  }

  async listByUser(userId: string, now: number): Promise<IndexedSession[]> {
    const set = this.#userKey(userId);
    const ids = ((await this.#send('listByUser', set, true, ['SMEMBERS', set])) as string[] | null) ?? [];
    const values = await Promise.all(
      ids.map((sid) => {
        const k = `${this.#prefix}{${sid}}`;
        return this.#send('listByUser', k, true, ['GET', k]) as Promise<string | null>;
      }),
    );
    const out: IndexedSession[] = [];
    const stale: string[] = [];
    values.forEach((text, i) => {
      const head = text ? wire.HEAD.exec(text) : null;
      let data: SessionData | null = null;
      if (head && Number(head[2]) > now) {
        try {
          const parsed: unknown = JSON.parse(text!.slice(head[0].length, -1));
          if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) data = parsed as SessionData;
        } catch {
          // corrupt: not listed
        }
      }
      if (data === null || userIdOf(data) !== userId) {
        if (!head || Number(head[2]) <= now || data === null || userIdOf(data) !== userId) stale.push(ids[i]!);
        return;
      }
      out.push({ id: ids[i]!, data, expiresAt: Number(head![2]), lastSeenAt: head![3] === undefined ? null : Number(head![3]) });
    });
    if (stale.length > 0) await this.#send('listByUser', set, false, ['SREM', set, ...stale]);
    return out;
  }

  async exists(key: string): Promise<boolean> {
    const id = this.#redisKey(key);
    return (await this.#send('exists', id, true, ['EXISTS', id])) === 1;
  }

  /** Calls `each` with every batch of this store's keys, on every master of a Cluster. */
  async #scan(what: string, each: (node: NodeSender | undefined, keys: string[]) => Promise<void>): Promise<void> {
    const nodes: (NodeSender | undefined)[] = this.#client.cluster ? await this.#bounded(what, this.#client.masters()) : [undefined];
    const match = `${wire.globEscape(this.#prefix)}{*}`;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const reply = (await this.#send(what, undefined, true, ['SCAN', cursor, 'MATCH', match, 'COUNT', '1000'], node)) as [
          string,
          string[],
        ];
        cursor = String(reply[0]);
        if (reply[1].length > 0) await each(node, reply[1]);
      } while (cursor !== '0');
    }
  }

  /**
   * Redis drops a session when its TTL passes, so there is normally nothing to clear. This scans
   * anyway and removes values whose recorded expiry has passed by `now` (a clock ahead of Redis's,
   * or an injected one), each with a script that checks the expiry again atomically.
   */
  async clearExpired(now = Date.now()): Promise<number> {
    let removed = 0;
    await this.#scan('clearExpired', async (node, keys) => {
      const results = await Promise.all(
        keys.map((k) =>
          node
            ? this.#send('clearExpired', k, false, ['EVAL', wire.CLEAR_SCRIPT, '1', k, String(now)], node)
            : this.#script('clearExpired', k, ['EVALSHA', wire.CLEAR_SHA, '1', k, String(now)], wire.CLEAR_SCRIPT),
        ),
      );
      for (const r of results) removed += r === 1 ? 1 : 0;
    });
    return removed;
  }

  async stats(now = Date.now()): Promise<StoreStats> {
    const stats: StoreStats = { count: 0, expired: 0, bytes: 0 };
    await this.#scan('stats', async (node, keys) => {
      const values = await Promise.all(keys.map((k) => this.#send('stats', k, true, ['GET', k], node) as Promise<string | null>));
      for (const text of values) {
        if (text === null || text === undefined) continue; // expired between SCAN and GET
        stats.count++;
        stats.bytes += utf8Length(text);
        const head = wire.HEAD.exec(text);
        if (head && Number(head[2]) <= now) stats.expired++;
      }
    });
    return stats;
  }

  /** Closes the client only when this store created it (fromUrl); a client passed in stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    const client = this.#client;
    if (!client.open) return;
    if (!client.ready) {
      client.destroy();
      return;
    }
    try {
      await this.#bounded('close', client.quit());
    } catch {
      client.destroy();
    }
  }
}
