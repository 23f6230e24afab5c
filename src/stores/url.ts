import { ConfigError } from '../core/errors.js';
import type { AnyStore, CreateStoreOptions } from '../core/store.js';
import { MemoryStore } from './memory.js';
import { PostgresStore } from './postgres.js';
import { RedisStore } from './redis.js';
import { SqliteStore } from './sqlite.js';

/** Builds a store for one URL scheme; `url` is the whole URL as the user gave it. */
export type StoreFactory = (url: string, options: CreateStoreOptions) => AnyStore;

interface Scheme {
  factory: StoreFactory;
  /** Whether `url` must parse with `new URL` (false for path-like schemes such as `sqlite:`). */
  isUrl: boolean;
}

const schemes = new Map<string, Scheme>();

/**
 * Teaches `createStore` a URL scheme (`'django+sqlite:'`, with the colon). Modules that bring a
 * store of their own register their schemes when imported: `sessionkit/django` registers
 * `django+sqlite:`, `django+postgres:` and `django+postgresql:`.
 */
export function registerStoreScheme(protocol: string, factory: StoreFactory, options: { isUrl?: boolean } = {}): void {
  if (!/^[a-z][a-z0-9+.-]*:$/.test(protocol))
    throw new ConfigError('protocol', `${JSON.stringify(protocol)} is not a URL scheme such as "mydb:"`);
  schemes.set(protocol, { factory, isUrl: options.isUrl ?? true });
}

registerStoreScheme('memory:', (_url, options) => new MemoryStore(options), { isUrl: false });
registerStoreScheme('sqlite:', (url, options) => SqliteStore.fromUrl(url, options), { isUrl: false });
registerStoreScheme('redis:', (url, options) => RedisStore.fromUrl(url, options));
registerStoreScheme('rediss:', (url, options) => RedisStore.fromUrl(url, options));
registerStoreScheme('postgres:', (url, options) => PostgresStore.fromUrl(url, options));
registerStoreScheme('postgresql:', (url, options) => PostgresStore.fromUrl(url, options));

/**
 * A store from a URL: `memory:`, `sqlite:./file.sqlite3` (or `sqlite:///abs/path`),
 * `redis://host:port/db`, `rediss://…`, `postgres://user@host/db`, `postgresql://…`; once
 * `sessionkit/django` is imported, Django's own table as `django+sqlite:PATH` or
 * `django+postgres://…` (secret from DJANGO_SECRET_KEY).
 * A store made here owns its connections: `close()` ends them.
 */
export function createStore(url: string, options: CreateStoreOptions = {}): AnyStore {
  if (typeof url !== 'string' || url === '')
    throw new ConfigError(
      'url',
      'give a store URL such as memory:, sqlite:./sessions.sqlite3, redis://127.0.0.1:6379/0 or postgres://user@host/db',
    );
  const colon = url.indexOf(':');
  const protocol = colon > 0 ? url.slice(0, colon + 1).toLowerCase() : '';
  const scheme = schemes.get(protocol);
  if (!scheme) {
    const django = protocol.startsWith('django+') ? "; import 'sessionkit/django' first for django+sqlite: and django+postgres://" : '';
    throw new ConfigError(
      'url',
      `${JSON.stringify(url)} is not a store URL sessionkit knows; use memory:, sqlite:PATH, redis://, rediss://, postgres:// or postgresql://${django}`,
    );
  }
  if (scheme.isUrl) {
    try {
      new URL(url);
    } catch {
      throw new ConfigError('url', `${JSON.stringify(url)} is not a valid URL`);
    }
  }
  return scheme.factory(url, options);
}
