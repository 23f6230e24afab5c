import { createHmac, timingSafeEqual } from 'node:crypto';
import { serialize } from '../core/set-cookie.js';
import type { SessionData } from '../core/codec.js';
import { readCookie } from '../core/cookie.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { consoleLogger, type Logger } from '../core/log.js';
import type { MigratedSession, SessionMigration } from '../core/migrate.js';
import { checkForeignSecret } from '../core/secret.js';
import type { Secret } from '../core/signing.js';

/** The part of an express-session store (connect-redis, connect-pg-simple, its MemoryStore, …) a migration uses. */
export interface ExpressSessionStore {
  get(sid: string, callback: (err: unknown, session?: Record<string, unknown> | null) => void): unknown;
  destroy(sid: string, callback?: (err?: unknown) => void): unknown;
}

export interface FromExpressSessionOptions {
  /** express-session's `secret`: a string, or an array whose every entry verifies (the first is the one it signed with). */
  secret: Secret;
  /** The store express-session used, e.g. `new RedisStore({ client })` from connect-redis. */
  store: ExpressSessionStore;
  /** express-session's `name`: the cookie it set. @default 'connect.sid' */
  name?: string;
  /** express-session's `cookie.path` and `cookie.domain`, so that the old cookie is expired where it was set. @default { path: '/' } */
  cookie?: { path?: string; domain?: string };
  /** Where a weak old secret is reported. @default console */
  logger?: Logger;
}

/**
 * Moves an express-session site to sessionkit without logging anyone out:
 * `createSessions({ store, migrate: fromExpressSession({ secret, store: oldStore }) })`. A request
 * with a valid signed express-session cookie (`s:<id>.<signature>`) and no sessionkit cookie gets
 * the old session's data (without express-session's `cookie` field) in a new sessionkit session
 * under a new key; once that is saved, the old record is destroyed and the old cookie expired.
 * A bad signature or an unknown (or expired) id is ignored.
 */
export function fromExpressSession(options: FromExpressSessionOptions): SessionMigration {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('migrate', 'fromExpressSession takes { secret, store }: the secret and the store express-session used');
  }
  const { store, name = 'connect.sid' } = options;
  if (typeof store?.get !== 'function' || typeof store?.destroy !== 'function') {
    throw new ConfigError(
      'store',
      'give the express-session store the old app used (it has get and destroy), e.g. new RedisStore({ client })',
    );
  }
  const secrets = checkForeignSecret(options.secret, { owner: "express-session's secret", logger: options.logger ?? consoleLogger });
  const expire = serialize(name, '', {
    path: options.cookie?.path ?? '/',
    domain: options.cookie?.domain,
    expires: new Date(0),
    maxAge: 0,
    httpOnly: true,
  });
  return {
    load(cookieHeader) {
      const value = readCookie(cookieHeader, name);
      if (value === undefined) return null;
      const sid = unsign(value, secrets);
      if (sid === null) return null;
      return new Promise<MigratedSession | null>((resolve, reject) => {
        store.get(sid, (err, old) => {
          if (err) return reject(new StoreUnavailableError(`the express-session store failed: ${String(err)}`, { cause: err }));
          if (old === null || old === undefined || typeof old !== 'object') return resolve(null);
          const { cookie: _cookie, ...data } = old;
          resolve({
            data: data as SessionData,
            expireCookies: [expire],
            saved: () => new Promise<void>((done, fail) => store.destroy(sid, (e) => (e ? fail(e) : done()))),
          });
        });
      });
    },
  };
}

/** The session id of a cookie-signature value `s:<id>.<base64 HMAC-SHA256 without padding>`, or null. */
function unsign(value: string, secrets: string[]): string | null {
  if (!value.startsWith('s:')) return null;
  const signed = value.slice(2);
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return null;
  const sid = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, ''));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return sid;
  }
  return null;
}
