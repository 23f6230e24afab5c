import { fillRandom, hashing } from './crypto.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Django's session key: 32 characters of [a-z0-9] from a CSPRNG (about 165 bits). */
export const KEY_LENGTH = 32;

/**
 * CSPRNG bytes drawn in batches (as node's own randomUUID does): one getRandomValues call costs
 * about as much as the whole rest of a new session's commit.
 */
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    fillRandom(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

/** A new random session key. Bytes >= 252 are rejected so that `% 36` has no bias. */
export function newSessionKey(): string {
  let key = '';
  while (key.length < KEY_LENGTH) {
    const b = randomByte();
    if (b < 252) key += ALPHABET[b % 36];
  }
  return key;
}

/** Whether a cookie value has the shape of a key this library could have made. */
export function isWellFormedKey(value: string): boolean {
  if (value.length !== KEY_LENGTH) return false;
  for (let i = 0; i < KEY_LENGTH; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39))) return false;
  }
  return true;
}

let lastKey: string | null = null;
let lastDigest = '';

/** What native stores keep at rest instead of the key, so a copy of the database hands out no live session. */
export function digestKey(key: string): string {
  // A request's load and its save digest the same key one after the other: the last one is kept.
  if (key !== lastKey) {
    lastDigest = hashing.sha256Hex(key);
    lastKey = key;
  }
  return lastDigest;
}
