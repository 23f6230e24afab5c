import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { serialize } from '../core/set-cookie.js';
import type { SessionData } from '../core/codec.js';
import { readCookie } from '../core/cookie.js';
import { MAX_USER_ID_LENGTH } from '../core/accounts.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { LATEST_EXPIRY } from '../core/expiry.js';
import { consoleLogger, type Logger } from '../core/log.js';
import type { MigratedSession, SessionMigration } from '../core/migrate.js';
import { checkForeignSecret } from '../core/secret.js';
import type { Secret } from '../core/signing.js';

/** The part of an express-session store (connect-redis, connect-pg-simple, its MemoryStore, …) a migration uses. */
export interface ExpressSessionStore {
  get(sid: string, callback: (err: unknown, session?: Record<string, unknown> | null) => void): unknown;
  destroy(sid: string, callback?: (err?: unknown) => void): unknown;
  /** Used, when the store has it, to leave other processes a short-lived note of where a session moved. */
  set?(sid: string, session: Record<string, unknown>, callback?: (err?: unknown) => void): unknown;
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
  /**
   * The user a migrated session belongs to (`session.userId`, what `listUserSessions` and
   * `revokeUserSessions` find), from the old data; null for none. A number is taken as its
   * decimal string. @default the passport user, `oldData.passport?.user`
   */
  userId?: (oldData: Record<string, unknown>) => string | number | null | undefined;
  /** Where a weak old secret is reported. @default console */
  logger?: Logger;
}

/**
 * How long requests carrying an old cookie that was just moved are given the session it was
 * moved to (a page's parallel requests, sent before the new cookie arrived), in milliseconds.
 */
export const MIGRATION_GRACE_MS = 10_000;
/** The most moves remembered for MIGRATION_GRACE_MS (the oldest are let go first). */
const MAX_MOVES_KEPT = 10_000;

/** One old session being moved, or moved within the grace period: the sessionkit key it went to. */
interface Move {
  key: Promise<string | null>;
  until: number;
}

/**
 * Moves an express-session site to sessionkit without logging anyone out:
 * `createSessions({ store, migrate: fromExpressSession({ secret, store: oldStore }) })`. A request
 * with a valid signed express-session cookie (`s:<id>.<signature>`) and no sessionkit cookie gets
 * the old session's data (without express-session's `cookie` field and the keys sessionkit
 * reserves) in a new sessionkit session under a new key, bound to the passport user (`userId`),
 * expiring when the old cookie did; once that is saved, the old record is destroyed and the old
 * cookie expired. Requests with the same old cookie in the next few seconds (a page's parallel
 * requests) get that same session. A bad signature or an unknown (or expired) id is ignored.
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
  if (options.userId !== undefined && typeof options.userId !== 'function') {
    throw new ConfigError('userId', 'give a function from the old session data to the user id, e.g. (old) => old.passport?.user');
  }
  const userIdOf = options.userId ?? passportUser;
  const secrets = checkForeignSecret(options.secret, { owner: "express-session's secret", logger: options.logger ?? consoleLogger });
  const expire = serialize(name, '', {
    path: options.cookie?.path ?? '/',
    domain: options.cookie?.domain,
    expires: new Date(0),
    maxAge: 0,
    httpOnly: true,
  });
  const expireCookies = [expire];
  const moves = new Map<string, Move>();
  const destroy = (sid: string) => () => new Promise<void>((done, fail) => store.destroy(sid, (e) => (e ? fail(e) : done())));

  const pointerOf = (sid: string) => `sessionkit-moved:${sid}`;
  const set = typeof store.set === 'function' ? store.set.bind(store) : null;
  const logger = options.logger ?? consoleLogger;

  /** The key another process moved this old session to moments ago (its note in the old store), or null. */
  function movedElsewhere(sid: string): Promise<string | null> {
    if (set === null) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      store.get(pointerOf(sid), (err, note) => {
        if (err) return reject(new StoreUnavailableError(`the express-session store failed: ${String(err)}`, { cause: err }));
        const sealed = (note as { sessionkitMovedTo?: unknown } | null | undefined)?.sessionkitMovedTo;
        const until = Date.parse(String((note as { cookie?: { expires?: unknown } } | null | undefined)?.cookie?.expires));
        resolve(typeof sealed === 'string' && until > Date.now() ? unsealKey(secrets, sid, sealed) : null);
      });
    });
  }

  /** Leaves a note in the old store, for MIGRATION_GRACE_MS, of where this old session went (other processes read it). */
  function noteMove(sid: string, key: string): void {
    const expires = new Date(Date.now() + MIGRATION_GRACE_MS);
    const note = {
      cookie: { originalMaxAge: MIGRATION_GRACE_MS, expires: expires.toISOString() },
      sessionkitMovedTo: sealKey(secrets[0]!, sid, key),
    };
    set!(pointerOf(sid), note, (err?: unknown) => {
      if (err) logger.warn('could not note a migrated session for other processes in the express-session store', { error: String(err) });
    });
  }

  /** Reads the old record (or another process's note of where it went) and hands its data over; `move` learns the new key. */
  function moveFromStore(sid: string): Promise<MigratedSession | null> {
    let settle!: (key: string | null) => void;
    const move: Move = { key: new Promise((resolve) => (settle = resolve)), until: Date.now() + MIGRATION_GRACE_MS };
    remember(moves, sid, move);
    const forget = () => {
      if (moves.get(sid) === move) moves.delete(sid);
      settle(null);
    };
    return movedElsewhere(sid).then(
      (key) => {
        if (key === null) return readOld(sid, move, settle, forget);
        settle(key);
        return { data: {}, key, expireCookies, saved: destroy(sid) };
      },
      (err: unknown) => {
        forget();
        throw err;
      },
    );
  }

  function readOld(sid: string, move: Move, settle: (key: string | null) => void, forget: () => void): Promise<MigratedSession | null> {
    return new Promise<MigratedSession | null>((resolve, reject) => {
      store.get(sid, (err, old) => {
        if (err) {
          forget();
          return reject(new StoreUnavailableError(`the express-session store failed: ${String(err)}`, { cause: err }));
        }
        if (old === null || old === undefined || typeof old !== 'object') {
          forget();
          return resolve(null);
        }
        const { cookie, ...data } = old as Record<string, unknown> & { cookie?: { expires?: unknown } };
        const expiry = expiryOf(cookie?.expires);
        if (expiry === 'expired') {
          forget();
          return resolve(null);
        }
        let userId: string | null = null;
        try {
          userId = toUserId(userIdOf(data));
        } catch (e) {
          forget();
          return reject(e);
        }
        resolve({
          data: data as SessionData,
          userId,
          expiry,
          expireCookies,
          created(key) {
            move.until = Date.now() + MIGRATION_GRACE_MS;
            settle(key);
            if (key === null) {
              if (moves.get(sid) === move) moves.delete(sid);
            } else if (set !== null) noteMove(sid, key);
          },
          saved: destroy(sid),
        });
      });
    });
  }

  return {
    load(cookieHeader) {
      const value = readCookie(cookieHeader, name);
      if (value === undefined) return null;
      const sid = unsign(value, secrets);
      if (sid === null) return null;
      const move = moves.get(sid);
      if (move === undefined || move.until <= Date.now()) return moveFromStore(sid);
      // moved moments ago, or being moved now by a parallel request: that session
      return move.key.then((key) => (key === null ? moveFromStore(sid) : { data: {}, key, expireCookies, saved: destroy(sid) }));
    },
  };
}

/** Remembers a move for the grace period, letting go of the expired ones and, past the cap, the oldest. */
function remember(moves: Map<string, Move>, sid: string, move: Move): void {
  moves.delete(sid);
  if (moves.size >= MAX_MOVES_KEPT) {
    const now = Date.now();
    for (const [k, m] of moves) if (m.until <= now || moves.size >= MAX_MOVES_KEPT) moves.delete(k);
  }
  moves.set(sid, move);
}

/** passport's user (`req.session.passport.user`), the default `userId`. */
function passportUser(old: Record<string, unknown>): unknown {
  const passport = old.passport;
  return passport !== null && typeof passport === 'object' ? (passport as { user?: unknown }).user : undefined;
}

/** A user id as sessionkit keeps it (a non-empty string of at most 255 characters), or null. */
function toUserId(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value !== '' && value.length <= MAX_USER_ID_LENGTH) return value;
  return null;
}

/** express-session's `cookie.expires` as the new expiry: a date, 0 (none: a browser-session cookie), or 'expired'. */
function expiryOf(expires: unknown): Date | 0 | 'expired' | undefined {
  if (expires === null || expires === undefined || expires === false) return 0;
  const at = new Date(expires as string);
  const ms = at.getTime();
  if (Number.isNaN(ms) || ms > LATEST_EXPIRY) return undefined; // unreadable: the default expiry
  return ms <= Date.now() ? 'expired' : at;
}
/** The new key, encrypted (AES-256-GCM) under a key made from the old secret and the old id: the old store never holds a usable key. */
function sealKey(secret: string, sid: string, key: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', noteKey(secret, sid), iv);
  const body = Buffer.concat([cipher.update(key, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function unsealKey(secrets: string[], sid: string, sealed: string): string | null {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length <= 28) return null;
  for (const secret of secrets) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', noteKey(secret, sid), raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      // another secret of the array, or a note that is not ours
    }
  }
  return null;
}

function noteKey(secret: string, sid: string): Buffer {
  return createHmac('sha256', secret).update(`sessionkit.moved:${sid}`).digest();
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
