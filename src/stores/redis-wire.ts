// What RedisStore puts on the wire: the stored value's encoding and the Lua scripts that make
// each write conditional, plus the small helpers around them.
import { encodeData, type SessionData } from '../core/codec.js';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { sha1 as nobleSha1 } from '@noble/hashes/legacy';
import { toHex } from '../core/crypto.js';
import { builtin } from '../core/require.js';
import type { StoredSession, UpdateResult } from '../core/store.js';
import type { Logger } from '../core/log.js';
import type { RedisStoreClient } from './redis-client.js';

export const HEAD = /^\{"v":(\d+),"e":(-?[\d.]+),(?:"s":(\d+),)?"d":/;

/** `json`, when the engine passes it, is `encodeData(data)` already made. */
export function encodeValue(version: number, expiresAt: number, data: SessionData, seen: number, json?: string): string {
  return `{"v":${version},"e":${expiresAt},"s":${Math.floor(seen)},"d":${json ?? encodeData(data)}}`;
}

/**
 * Compare-and-set on one key, atomic because Redis runs a script without interleaving. KEYS[1]
 * the session key; ARGV: expected version, now (ms), TTL (ms; <= 0 means the new value is already
 * expired), the new value. Returns the new version, 'conflict' or 'missing'. A missing key is
 * never written: a session deleted elsewhere is not brought back.
 */
export const UPDATE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 'missing' end
local version = 0
local v, e = string.match(cur, '^{"v":(%d+),"e":(%-?[%d%.]+),"[sd]":')
if v then
  version = tonumber(v)
  if tonumber(e) <= tonumber(ARGV[2]) then return 'missing' end
end
if version ~= tonumber(ARGV[1]) then return 'conflict' end
if tonumber(ARGV[3]) <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
end
return version + 1
`;

/** Deletes KEYS[1] if its value says it expired at or before ARGV[1] (ms); returns 1 if it did. */
export const CLEAR_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local e = string.match(cur, '^{"v":%d+,"e":(%-?[%d%.]+),"[sd]":')
if e and tonumber(e) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/**
 * A touch: the new expiry and last-seen time written into the value's head, its data and version
 * left as they are (so a touch never conflicts with a parallel save). KEYS[1] the session key;
 * ARGV: now (ms), new expiry (ms), TTL (ms), last seen (ms). Returns 1, or 0 when the session is
 * gone, expired or not a value this store wrote.
 */
export const TOUCH_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local v, e, rest = string.match(cur, '^{"v":(%d+),"e":(%-?[%d%.]+),(".*)$')
if not v or tonumber(e) <= tonumber(ARGV[1]) then return 0 end
rest = string.gsub(rest, '^"s":%d+,', '', 1)
if string.sub(rest, 1, 4) ~= '"d":' then return 0 end
redis.call('SET', KEYS[1], '{"v":' .. v .. ',"e":' .. ARGV[2] .. ',"s":' .. ARGV[4] .. ',' .. rest, 'PX', ARGV[3])
return 1
`;

/** Adds ARGV[1] to the user's set KEYS[1] and keeps the set alive at least ARGV[2] ms (as long as its longest session). */
export const INDEX_SCRIPT = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

type NodeHash = Pick<typeof import('node:crypto'), 'createHash'>;

/**
 * SHA-1 of a UTF-8 string, as lowercase hex: the digest Redis names a script by (EVALSHA; not for
 * secrets), through `node` (a `node:crypto` module) when given, @noble/hashes otherwise. Here
 * rather than in core/crypto.ts, so that bundles without a RedisStore hold no SHA-1.
 */
export function makeSha1(node: NodeHash | undefined): (text: string) => string {
  if (node && typeof node.createHash === 'function') {
    const { createHash } = node;
    return (text) => createHash('sha1').update(text, 'utf8').digest('hex');
  }
  return (text) => toHex(nobleSha1(text));
}

export const sha1 = makeSha1(builtin<NodeHash>('node:crypto'));
export const UPDATE_SHA = sha1(UPDATE_SCRIPT);
export const CLEAR_SHA = sha1(CLEAR_SCRIPT);
export const TOUCH_SHA = sha1(TOUCH_SCRIPT);
export const INDEX_SHA = sha1(INDEX_SCRIPT);

/** How many Redis keys of recent sessions a store keeps (about 200 bytes each). */
export const KEYS_KEPT = 4096;

export const same = <T>(value: T): T => value;
export const first = <T>(values: readonly [T, ...unknown[]]): T => values[0];

/** The reply of the update script: the new version, 'conflict' or 'missing'. */
export function updateResult(reply: unknown): UpdateResult {
  if (typeof reply === 'number') return { status: 'ok', version: reply };
  if (reply === 'conflict') return { status: 'conflict' };
  if (reply === 'missing') return { status: 'missing' };
  throw new StoreUnavailableError(`Redis update answered ${JSON.stringify(reply)}, not a version`);
}

export interface Pending {
  deadline: number;
  what: string;
  reject(err: unknown): void;
}

export function unavailable(what: string, err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  return new StoreUnavailableError(
    `Redis ${what} failed: ${(err as Error)?.message ?? String(err)}; check that Redis is running and reachable`,
    { cause: err },
  );
}

/** Escapes a literal for a SCAN MATCH glob. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export function checkTimeout(timeout = 2000): number {
  if (!Number.isInteger(timeout) || timeout <= 0) throw new ConfigError('timeout', 'give whole milliseconds above 0, e.g. 2000');
  return timeout;
}

export interface RedisStoreOptions {
  /**
   * A client the user built and connects: node-redis 4 or later (`createClient()`, or
   * `createCluster()` for Redis Cluster), ioredis (`new Redis()`, `new Redis.Cluster()`) or
   * iovalkey (`new Redis()`). The store never closes it.
   */
  client: RedisStoreClient;
  /** Put before every key; keeps sessions apart from other data in the same database. @default 'sessionkit:' */
  prefix?: string;
  /** Where corrupt values and client errors are reported. @default console */
  logger?: Logger;
  /**
   * How long one Redis command may take, in milliseconds, before the request fails with
   * StoreUnavailableError (adapters answer 503) instead of waiting for a server that is down.
   * @default 2000
   */
  timeout?: number;
}

/** A stored value read back: the session, null when it expired, or `corrupt` with what its head still says. */
export function decodeValue(
  text: string,
  now: number,
): StoredSession | null | { corrupt: true; version: number | null; expiresAt: number | null } {
  const head = HEAD.exec(text);
  if (head === null) return { corrupt: true, version: null, expiresAt: null };
  const expiresAt = Number(head[2]);
  if (expiresAt <= now) return null;
  try {
    const data: unknown = JSON.parse(text.slice(head[0].length, -1));
    if (text.endsWith('}') && data !== null && typeof data === 'object' && !Array.isArray(data)) {
      const found: StoredSession = { data: data as SessionData, expiresAt, version: Number(head[1]) };
      if (head[3] !== undefined) found.lastSeenAt = Number(head[3]);
      return found;
    }
  } catch {
    // corrupt data after a good head
  }
  return { corrupt: true, version: Number(head[1]), expiresAt };
}
