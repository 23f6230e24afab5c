// The writer: every write of a session's data goes through here, conditional on the version loaded.
import { capExpiry, metaOf, isTombstone, META_KEY, type SessionMeta, tombstoneReason } from '../accounts.js';
import { newSessionKey } from '../keys.js';
import { encodeData, ownData, type SessionData } from '../codec.js';
import { CONTENTION_TEXT, SessionDataError, SessionInterruptedError, StoreUnavailableError } from '../errors.js';
import { EXPIRY_KEY, expiresAt } from '../expiry.js';
import { loaded, rebased, saved, type SessionState } from '../session.js';
import {
  type Core,
  type InFlight,
  MAX_COMMIT_ATTEMPTS,
  MAX_COOKIE_BYTES,
  MAX_CREATE_ATTEMPTS,
  MAX_BACKOFF_MS,
  QUEUE_GRACE_MS,
  DEFAULT_STORE_TIMEOUT_MS,
  detectNestedChanges,
  interrupted,
  rethrowUnavailable,
  sleep,
  byteLength,
} from './core.js';
import { storedData } from './core.js';
import { whyGone } from './tombstones.js';

export async function write(c: Core, s: SessionState): Promise<void> {
  const now = c.now();
  if (c.client) {
    const value = c.client.seal(s.data, now);
    // name=value under the name given to createSessions (RFC 6265 §6.1: browsers keep 4096 bytes)
    const size = byteLength(c.o.cookie.name) + 1 + value.length;
    if (size > MAX_COOKIE_BYTES) {
      throw new SessionDataError(
        `the session cookie would be ${size} bytes (name=value), over the ${MAX_COOKIE_BYTES} bytes browsers keep; nothing was written: store less in the session or use a server-side store`,
      );
    }
    c.obs?.creating(s, value);
    saved(s, value, 0);
    return;
  }
  if (s.key === null) return createRecord(c, s, now);
  const key = s.key;
  let flight = c.inFlight.get(key);
  let run: Promise<void>;
  if (flight === undefined) {
    flight = { tail: null, last: null, progressAt: Date.now(), down: false };
    run = updateLoop(c, s, key, now, flight);
  } else {
    const f = flight;
    run = waitTurn(f, (c.server!.timeout ?? DEFAULT_STORE_TIMEOUT_MS) + QUEUE_GRACE_MS).then(() => {
      // The commit before this one wrote the record: start from what it wrote, without a failed write and a reload.
      if (f.last !== null && f.last.version !== s.version) rebased(s, ownData(JSON.parse(f.last.json)), f.last.version);
      return updateLoop(c, s, key, c.now(), f);
    });
  }
  const f = flight;
  const tail = run.then(
    () => {
      f.progressAt = Date.now();
      f.down = false;
    },
    (err: unknown) => {
      f.progressAt = Date.now();
      f.down = err instanceof StoreUnavailableError;
    },
  );
  flight.tail = tail;
  c.inFlight.set(key, flight);
  try {
    await run;
  } finally {
    if (c.inFlight.get(key)?.tail === tail) c.inFlight.delete(key);
  }
}

/** Conditional update; on a conflict, this request's changes are replayed on the fresh record and retried. */
export async function updateLoop(c: Core, s: SessionState, key: string, now: number, flight: InFlight): Promise<void> {
  const store = c.server!;
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
    const json = checkSize(c, s.data);
    const until = expiryOf(c, s.data, now);
    const result = await store
      .update({ key, data: s.data, expiresAt: until, expectedVersion: s.version, now, json })
      .catch(rethrowUnavailable);
    if (result.status === 'ok') {
      flight.last = { json, version: result.version };
      return saved(s, key, result.version);
    }
    if (result.status === 'missing') throw interrupted(s, await whyGone(c, key));
    c.obs?.conflict(s, key);
    // Someone else wrote first: take their record and put this request's own changes on top.
    // Past the first retry, wait a random while, so that processes writing together spread out.
    if (attempt > 0) await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
    const fresh = await store.load(key, now).catch(rethrowUnavailable);
    if (!fresh) throw interrupted(s, await whyGone(c, key));
    if (isTombstone(fresh.data)) throw interrupted(s, tombstoneReason(fresh.data));
    rebased(s, storedData(c, fresh), fresh.version);
  }
  c.logger.error('gave up a commit after conflicting writes', { attempts: MAX_COMMIT_ATTEMPTS });
  throw new SessionInterruptedError(
    `sessionkit: the session kept changing in parallel requests while this request was handled; gave up merging after ${MAX_COMMIT_ATTEMPTS} conflicting writes in a row, so this request's changes were not saved (the session itself is intact)`,
    { responseText: CONTENTION_TEXT },
  );
}

export async function createRecord(c: Core, s: SessionState, now: number): Promise<void> {
  const store = c.server!;
  if (c.o.accounts.absoluteTimeout !== null && metaOf(s.data) === null) {
    // the absolute timeout of a session never signed in runs from its creation
    const meta: SessionMeta = { since: now };
    s.data[META_KEY] = meta;
    (s.ops ??= []).push({ kind: 'set', key: META_KEY, value: meta });
  }
  const json = checkSize(c, s.data);
  const until = expiryOf(c, s.data, now);
  for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
    const key = newSessionKey();
    const version = await store.create({ key, data: s.data, expiresAt: until, now, json }).catch(rethrowUnavailable);
    if (version === null) continue;
    c.obs?.creating(s, key);
    return saved(s, key, version);
  }
  throw new StoreUnavailableError(
    `could not create a new session key after ${MAX_CREATE_ATTEMPTS} attempts; the store refuses every new key`,
  );
}

/** Refuses, before any write, data over `maxSize`; gives the data's JSON. */
export function checkSize(c: Core, data: SessionData): string {
  const max = c.o.maxSize;
  const json = encodeData(data);
  if (json.length * 3 > max) {
    const size = byteLength(json);
    if (size > max) {
      throw new SessionDataError(
        `the session's data is ${size} bytes encoded, over maxSize (${max} bytes); store less in the session, or raise the maxSize option of createSessions`,
      );
    }
  }
  return json;
}

/** The expiry instant to store. */
export function expiryOf(c: Core, data: SessionData, now: number): number {
  return capExpiry(expiresAt(data[EXPIRY_KEY], c.maxAge, now), data, now, c.o.accounts);
}

export async function saveNow(c: Core, s: SessionState): Promise<void> {
  if (s.lost !== null) throw new SessionInterruptedError();
  detectNestedChanges(s);
  if (c.client) return; // the cookie store writes the cookie at commit
  if (s.key === null) {
    if (s.migrated !== null || !s.modified) return;
    await createRecord(c, s, c.now());
    s.cookieDue = true;
    return;
  }
  if (!s.modified) {
    const fresh = await c.server!.load(s.key, c.now()).catch(rethrowUnavailable);
    if (fresh === null || isTombstone(fresh.data)) throw interrupted(s, fresh === null ? 'revoked' : 'replaced');
    loaded(s, s.key, storedData(c, fresh), fresh.version);
    return;
  }
  await write(c, s);
  // moved in from a previous system on this request: its cookie and the old session's end are still due
  if (s.migrated !== null) s.cookieDue = true;
}

/**
 * Waits for the commits queued before this one; gives up (nothing written) when the one before
 * failed for the store, or when the queue made no progress for `limit` milliseconds.
 */
export function waitTurn(f: InFlight, limit: number): Promise<void> {
  const tail = f.tail ?? Promise.resolve();
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout>;
    const check = () => {
      const idle = Date.now() - f.progressAt;
      if (idle < limit) timer = setTimeout(check, limit - idle);
      else
        reject(
          new StoreUnavailableError(
            `the session store finished none of the commits queued before this one within ${limit} ms; nothing of this request was written`,
          ),
        );
    };
    timer = setTimeout(check, limit);
    tail.then(() => {
      clearTimeout(timer);
      if (f.down)
        reject(
          new StoreUnavailableError('the session store failed the commit queued before this one; nothing of this request was written'),
        );
      else resolve();
    });
  });
}
