import assert from 'node:assert/strict';
import * as nodeCrypto from 'node:crypto';
import * as nodeZlib from 'node:zlib';
import { describe, it } from 'node:test';
import { makeCompression } from './compress.js';
import { hashing, makeHashing, timingSafeEqual } from './crypto.js';
import { makeSha1 } from '../stores/redis-wire.js';

const TEXTS = ['', 'a', 'abcdefghijklmnopqrstuvwxyz012345', 'déjà vu ☃ 🍪', 'x'.repeat(10_000)];

describe("Redis scripts' SHA-1 without node:crypto", () => {
  it('@noble/hashes gives the same SHA-1 as node:crypto (the digest EVALSHA names a script by)', () => {
    const node = makeSha1(nodeCrypto);
    const noble = makeSha1(undefined);
    for (const text of TEXTS) assert.equal(noble(text), node(text), text.slice(0, 20));
    assert.equal(noble('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  });
});

describe('hashing without node:crypto', () => {
  const node = makeHashing(nodeCrypto);
  const noble = makeHashing(undefined);

  it('the runtime hashing is node:crypto here, and agrees with it', () => {
    assert.equal(hashing.sha256Hex('abc'), nodeCrypto.createHash('sha256').update('abc').digest('hex'));
    assert.equal(hashing.sha256Hex('abc'), node.sha256Hex('abc'));
  });

  it('@noble/hashes gives the same SHA-256 and HMAC-SHA256 as node:crypto, for UTF-8 text and bytes', () => {
    const key = nodeCrypto.randomBytes(32);
    for (const text of TEXTS) {
      assert.equal(noble.sha256Hex(text), node.sha256Hex(text), text.slice(0, 20));
      assert.deepEqual(Buffer.from(noble.sha256(text)), Buffer.from(node.sha256(text)));
      assert.deepEqual(Buffer.from(noble.hmacSha256(key, text)), Buffer.from(node.hmacSha256(key, text)));
      assert.deepEqual(Buffer.from(noble.hmacSha256(key, Buffer.from(text))), Buffer.from(node.hmacSha256(key, text)));
      assert.equal(noble.hmacSha256Base64url(key, text), node.hmacSha256Base64url(key, text));
    }
    assert.equal(noble.sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('timingSafeEqual', () => {
  it('is true only for the same string', () => {
    assert.equal(timingSafeEqual('abc', 'abc'), true);
    assert.equal(timingSafeEqual('', ''), true);
    assert.equal(timingSafeEqual('abc', 'abd'), false);
    assert.equal(timingSafeEqual('abc', 'ab'), false);
    assert.equal(timingSafeEqual('é', 'e'), false);
    assert.equal(timingSafeEqual('abc', undefined as unknown as string), false);
  });
});

describe('zlib without node:zlib', () => {
  const node = makeCompression(nodeZlib);
  const fflate = makeCompression(undefined);
  const data = Buffer.from(JSON.stringify({ cart: Array.from({ length: 200 }, (_, i) => `item-${i}`) }));

  it('fflate and node:zlib each inflate what the other deflates', () => {
    assert.deepEqual(Buffer.from(fflate.inflate(node.deflate(data), 1 << 20)), data);
    assert.deepEqual(Buffer.from(node.inflate(fflate.deflate(data), 1 << 20)), data);
    assert.ok(fflate.deflate(data).length < data.length / 2);
  });

  it('fflate refuses a stream that inflates past the limit, and one that is not zlib', () => {
    const bomb = node.deflate(Buffer.alloc(5 * 1024 * 1024));
    assert.throws(() => fflate.inflate(bomb, 1024 * 1024), /more than 1048576 bytes/);
    assert.throws(() => node.inflate(bomb, 1024 * 1024));
    assert.throws(() => fflate.inflate(Buffer.from('not zlib'), 1024));
  });
});
