import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { digestKey, isWellFormedKey, newSessionKey } from './keys.js';

test('isWellFormedKey accepts exactly 32 characters of [a-z0-9]', () => {
  for (let i = 0; i < 100; i++) assert.equal(isWellFormedKey(newSessionKey()), true);
  const good = 'abcdefghijklmnopqrstuvwxyz012345';
  assert.equal(isWellFormedKey(good), true);
  for (const bad of [
    good.slice(1),
    `${good}6`,
    `A${good.slice(1)}`,
    `-${good.slice(1)}`,
    `${good.slice(0, 31)}:`,
    `${good.slice(0, 31)}é`,
    `${good.slice(0, 31)}\0`,
    '',
  ])
    assert.equal(isWellFormedKey(bad), false, JSON.stringify(bad));
});

test('digestKey is the SHA-256 hex of the key, whichever key came before', () => {
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  const a = newSessionKey();
  const b = newSessionKey();
  for (const k of [a, a, b, a, b, b, a]) assert.equal(digestKey(k), sha(k));
});
