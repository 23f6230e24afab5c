import { ConfigError } from '../core/errors.js';
import type { CreateStoreOptions } from './url.js';
import type { AnyStore } from './store.js';

/** Placeholder until RedisStore lands: createStore('redis…') says it is not built yet. */
export function redisStoreFromUrl(_url: string, _options: CreateStoreOptions): AnyStore {
  throw new ConfigError('url', 'RedisStore is not available yet');
}
