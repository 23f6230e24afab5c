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

/**
 * A `require` resolving from the application's folder (`process.cwd()`), made through
 * `node:module` at run time: inside a server bundle (Next.js, a Vite SSR build) the module's own
 * `require` is the bundler's and may not see node_modules; this one always does.
 */
function appRequire(): Require | null {
  const createRequire = builtin<typeof import('node:module')>('node:module')?.createRequire;
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
  if (!createRequire || typeof cwd !== 'string') return null;
  try {
    return createRequire(`${cwd.replace(/[\\/]$/, '')}/package.json`);
  } catch {
    return null;
  }
}

const isNotFound = (err: unknown) =>
  (err as { code?: unknown })?.code === 'MODULE_NOT_FOUND' || /Cannot find module/.test(String((err as Error)?.message));

/**
 * Loads an installed package: with this module's `require`, then (when that cannot find it, as
 * inside a bundle) from the application's folder. Throws the loader's own error, unchanged, so
 * the caller can say what went wrong; `null` when this runtime cannot load packages at all.
 */
export function loadPackage<T>(name: string): T {
  const own = nodeRequire();
  let first: unknown = null;
  if (own) {
    try {
      return own(name) as T;
    } catch (err) {
      // inside a bundle the bundler's require may refuse (Turbopack: "dynamic usage of require
      // is not supported") or not find it: the application's folder is tried next
      first = err;
    }
  }
  const app = appRequire();
  if (app === null) {
    if (first !== null) throw first;
    throw new ConfigError(
      'store',
      `this store needs the ${name} package, which this runtime cannot load (no require, no process.getBuiltinModule): use Node.js 20.16 or later, Bun or Deno, or a store that needs no driver (CookieStore, MemoryStore)`,
    );
  }
  try {
    return app(name) as T;
  } catch (err) {
    // the first error says more when the package was found but failed to load
    throw first !== null && isNotFound(err) && !isNotFound(first) && !bundlerRefusal(first) ? first : err;
  }
}

/** An error a bundler's own `require` throws for a name it cannot see at build time. */
export const bundlerRefusal = (err: unknown): boolean =>
  /dynamic usage of require|webpackMissingModule|__webpack_require__/i.test(String((err as Error)?.message));

/** The `package.json` of an installed package (version, engines), or null when it cannot be read. */
export function packageManifest(name: string): { version?: string; engines?: { node?: string } } | null {
  try {
    return loadPackage(`${name}/package.json`);
  } catch {
    return null;
  }
}

/** Loads a driver the user installs (redis, pg), with an error that says how to install it. */
export function requireOptional<T>(name: string): T {
  try {
    return loadPackage<T>(name);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
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
