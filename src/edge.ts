/**
 * The main entry for Workers, edge runtimes and browsers (package.json `exports` conditions
 * `workerd`, `worker`, `edge-light`, `browser`): the same as `index.ts`, but `createSessions`
 * has no default store, so a bundle for those runtimes holds no SQLite code.
 */
import { makeSessions, type Sessions } from './core/sessions.js';
import type { SessionsOptions } from './core/options.js';
import { ConfigError } from './core/errors.js';
import type { AnyStore } from './core/store.js';
import type { DeclaredSessionData } from './core/session-types.js';

/**
 * Sessions for a web application, with Django's semantics. Options are checked here, once:
 * a bad one throws ConfigError naming it. On this runtime `store` is required.
 */
export function createSessions<Data extends Record<string, any> = DeclaredSessionData>(
  options: SessionsOptions<AnyStore> = {},
): Sessions<Data> {
  return makeSessions<Data>(options, () => {
    throw new ConfigError(
      'store',
      'this runtime has no default store (SQLite needs Node.js, Bun or Deno): pass one, e.g. store: new CookieStore({ secret }), or a RedisStore',
    );
  });
}

export * from './public.js';
