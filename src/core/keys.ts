import * as crypto from 'node:crypto';
import { createHash, randomFillSync } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Django's session key: 32 characters of [a-z0-9] from a CSPRNG (about 165 bits). */
export const KEY_LENGTH = 32;
const KEY_RE = /^[a-z0-9]{32}$/;

/**
 * CSPRNG bytes drawn in batches (as node's own randomUUID does): one randomFillSync call costs
 * about as much as the whole rest of a new session's commit.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
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
  return value.length === KEY_LENGTH && KEY_RE.test(value);
}

/** `crypto.hash` (node >= 20.12): the same digest without a Hash object per call. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** What native stores keep at rest instead of the key, so a copy of the database hands out no live session. */
export function digestKey(key: string): string {
  return oneShotHash ? oneShotHash('sha256', key, 'hex') : createHash('sha256').update(key).digest('hex');
}
