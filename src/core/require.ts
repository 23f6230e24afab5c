import { ConfigError } from './errors.js';

type Require = (id: string) => unknown;
type BuiltinProcess = { getBuiltinModule?: (id: string) => unknown };

/**
 * A Node.js built-in module where the runtime has one (Node.js ≥ 20.16, Bun, Deno, Workers with
 * `nodejs_compat`), or `undefined`. Never a static `import`, so bundlers for runtimes without
 * built-ins (Workers, edge) see no `node:` module, and importing sessionkit loads none.
 */
export function builtin<T>(name: string): T | undefined {
  const proc = (globalThis as { process?: BuiltinProcess }).process;
  try {
    if (typeof proc?.getBuiltinModule === 'function') return (proc.getBuiltinModule(name) as T | undefined) ?? undefined;
    // Node.js 20.0–20.15 has no getBuiltinModule; the CommonJS build has its own require there.
    if (typeof require === 'function') return require(name) as T;
  } catch {}
  return undefined;
}

let cached: Require | null | undefined;

/**
 * A `require` for drivers the user installs, made on first use, never at import: the CommonJS build
 * (and any CommonJS bundle) has the module's own; the ES module build makes one from this file's URL.
 */
function nodeRequire(): Require | null {
  if (cached !== undefined) return cached;
  if (typeof require === 'function') return (cached = require);
  const url: unknown = import.meta.url;
  const createRequire = builtin<typeof import('node:module')>('node:module')?.createRequire;
  cached = createRequire && typeof url === 'string' ? createRequire(url) : null;
  return cached;
}

/** Loads a driver the user installs (redis, pg), with an error that says how to install it. */
export function requireOptional<T>(name: string): T {
  const load = nodeRequire();
  if (!load) {
    throw new ConfigError(
      'store',
      `this store needs the ${name} package, which this runtime cannot load (no require, no process.getBuiltinModule): use Node.js 20.16 or later, Bun or Deno, or a store that needs no driver (CookieStore, MemoryStore)`,
    );
  }
  try {
    return load(name) as T;
  } catch {
    throw new ConfigError('store', `this store needs the ${name} package: npm install ${name}`);
  }
}

/** A package by name through `require` (made on first use, never at import), or null where no require exists; throws when it is not installed. */
export function requireModule<T>(name: string): T | null {
  const load = nodeRequire();
  return load ? (load(name) as T) : null;
}

/** An optional package (`@opentelemetry/api`) when the application installed it, else undefined; never throws. */
export function tryRequire<T>(name: string): T | undefined {
  try {
    return (nodeRequire()?.(name) as T | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}
