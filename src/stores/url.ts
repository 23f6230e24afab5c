import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { MemoryStore } from './memory.js';
import { SqliteStore } from './sqlite.js';
import type { AnyStore } from './store.js';
import { redisStoreFromUrl } from './redis.js';
import { postgresStoreFromUrl } from './postgres.js';
import { djangoStoreFromUrl } from '../django/store.js';

export interface CreateStoreOptions {
  logger?: Logger;
}

type StoreFactory = (url: string, options: CreateStoreOptions) => AnyStore;

/**
 * Stores whose drivers are optional peer dependencies. Each module exports a `…FromUrl`
 * function that loads its driver with `requireOptional`, so `sessionkit` itself loads without them.
 */
const factories = new Map<string, StoreFactory>([
  ['redis:', redisStoreFromUrl],
  ['rediss:', redisStoreFromUrl],
  ['postgres:', postgresStoreFromUrl],
  ['postgresql:', postgresStoreFromUrl],
  // Django's own django_session table; the secret comes from DJANGO_SECRET_KEY
  ['django+sqlite:', djangoStoreFromUrl],
  ['django+postgres:', djangoStoreFromUrl],
  ['django+postgresql:', djangoStoreFromUrl],
]);

/**
 * A store from a URL: `memory:`, `sqlite:./file.sqlite3` (or `sqlite:///abs/path`),
 * `redis://host:port/db`, `rediss://…`, `postgres://user@host/db`, `postgresql://…`, and Django's
 * own table as `django+sqlite:PATH` or `django+postgres://…` (secret from DJANGO_SECRET_KEY).
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
  if (protocol === 'memory:') return new MemoryStore(options);
  if (protocol === 'sqlite:') {
    let path = url.slice(colon + 1);
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path and sqlite://./rel
    if (path === '') throw new ConfigError('url', `${JSON.stringify(url)} names no file; write e.g. sqlite:./sessions.sqlite3`);
    return new SqliteStore({ path: decodeURIComponent(path), logger: options.logger });
  }
  const factory = factories.get(protocol);
  if (!factory) {
    throw new ConfigError(
      'url',
      `${JSON.stringify(url)} is not a store URL sessionkit knows; use memory:, sqlite:PATH, redis://, rediss://, postgres:// or postgresql://`,
    );
  }
  try {
    if (!protocol.startsWith('django+sqlite')) new URL(url);
  } catch {
    throw new ConfigError('url', `${JSON.stringify(url)} is not a valid URL`);
  }
  return factory(url, options);
}
