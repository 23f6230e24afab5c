import { createRequire } from 'node:module';
import { ConfigError } from './errors.js';

const require = createRequire(import.meta.url);

/** Loads a driver the user installs (redis, pg), with an error that says how to install it. */
export function requireOptional<T>(name: string): T {
  try {
    return require(name) as T;
  } catch {
    throw new ConfigError('store', `this store needs the ${name} package: npm install ${name}`);
  }
}
