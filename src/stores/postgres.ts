import { ConfigError } from '../core/errors.js';
import type { CreateStoreOptions } from './url.js';
import type { AnyStore } from './store.js';

/** Placeholder until PostgresStore lands: createStore('postgres…') says it is not built yet. */
export function postgresStoreFromUrl(_url: string, _options: CreateStoreOptions): AnyStore {
  throw new ConfigError('url', 'PostgresStore is not available yet');
}
