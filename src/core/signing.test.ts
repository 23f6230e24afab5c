import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { ConfigError, SessionDataError } from './errors.js';
import { b62decode, b62encode, createSigner, pythonJson, pythonNumber, saltedHmac } from './signing.js';

const T = 1700000000_000; // milliseconds
const DB_SALT = 'django.contrib.sessions.SessionStore';
const COOKIE_SALT = 'django.contrib.sessions.backends.signed_cookies';

// Vectors below were made by Django 3.2.25 (Debian python3-django), signing.dumps with time.time patched to 1700000000.
describe('Django signing: the worked example of django-format.md, byte for byte', () => {
  const db = createSigner({ secret: 'test-secret', salt: DB_SALT });

  it('base62 timestamp', () => {
    assert.equal(b62encode(1700000000), '1r31eq');
    assert.equal(b62decode('1r31eq'), 1700000000);
    assert.equal(b62encode(0), '0');
    assert.equal(b62encode(-62), '-10');
    assert.equal(b62decode('-10'), -62);
    assert.equal(b62decode('1r3!eq'), null);
  });

  it('HMAC key is sha256(salt + "signer" + secret)', () => {
    const key = createHash('sha256').update(`${DB_SALT}signertest-secret`).digest('hex');
    assert.equal(key, 'bdf85387cfb1aebc2fcbf94f17ffb65d3732423192291101ed1d6434a0a17922');
    assert.equal(
      Buffer.from(saltedHmac(`${DB_SALT}signer`, 'eyJjYXQiOiJkb2cifQ:1r31eq', 'test-secret')).toString('hex'),
      '81df9b5f1ba43eec18be8b9f44cf7555b9bfc32b8f7013e15e7280d04b44a7ab',
    );
  });

  it('session_data, signed cookie and empty session', () => {
    assert.equal(db.dumps({ cat: 'dog' }, T), 'eyJjYXQiOiJkb2cifQ:1r31eq:gd-bXxukPuwYvoufRM91Vbm_wyuPcBPhXnKA0EtEp6s');
    assert.equal(
      createSigner({ secret: 'test-secret', salt: COOKIE_SALT }).dumps({ cat: 'dog' }, T),
      'eyJjYXQiOiJkb2cifQ:1r31eq:or5lsglRfetFdncdU2Aox9ybSSoBH7pCLi7z9dhc_CY',
    );
    assert.equal(db.dumps({}, T), 'e30:1r31eq:_F3okiP-noHBD-hYzEdpe7d0AmxCfHuvu0s551rcuJM');
  });

  it('the compressed example decodes', () => {
    const r = db.loads(
      '.eJyrVkrLz1eyUkpKLFLSUYovTi0uzszPi0-tKMgsqgSKGxkYG-gaGAJRiIGBFRhpg0mlWgAhFhBz:1r31eq:EK4BtJBxscyWl_7XL1rxknHzV0-GPHFkOzmIk30AcRU',
      { now: T },
    );
    assert.deepEqual(r, { ok: true, value: { foo: 'bar', _session_expiry: '2030-01-01T00:00:00+00:00' }, timestamp: 1700000000 });
  });
});

describe('Python-compatible JSON', () => {
  it('strings: ASCII only, lowercase \\u escapes, surrogate pairs, DEL, short escapes, / unescaped', () => {
    const s = 'Zoë 😀 \x7f \x00 \t\n\r\b\f "q" \\ / </script> \u2028 \ud800';
    assert.equal(pythonJson({ s }), String.raw`{"s":"Zo\u00eb \ud83d\ude00 \u007f \u0000 \t\n\r\b\f \"q\" \\ / </script> \u2028 \ud800"}`);
  });

  it('numbers: Python float repr for fractions, ints for integral values', () => {
    // Python: [0,1,-1,2.5,1e-05,0.0001,1.5e-07,123456789.125,-0.5,3.14159,0.1]
    assert.equal(
      pythonJson([0, 1, -1, 2.5, 1e-5, 0.0001, 1.5e-7, 123456789.125, -0.5, 3.14159, 0.1]),
      '[0,1,-1,2.5,1e-05,0.0001,1.5e-07,123456789.125,-0.5,3.14159,0.1]',
    );
    // Our documented choice: an integral number is a Python int (Python wrote the floats 1e16 and 100.0 as 1e+16 and 100.0).
    assert.equal(pythonJson([1e16, 100.0, 1e22, -0]), '[10000000000000000,100,10000000000000000000000,0]');
    assert.equal(pythonNumber(1.2345e-300), '1.2345e-300');
    assert.equal(pythonNumber(-2.5e-5), '-2.5e-05');
    assert.equal(pythonNumber(123.456), '123.456');
    assert.equal(pythonNumber(NaN), 'NaN');
  });

  it('objects keep insertion order (integer-like keys are listed first by JavaScript)', () => {
    assert.equal(pythonJson({ nested: { a: [true, false, null] } }), '{"nested":{"a":[true,false,null]}}');
  });

  it('the unicode token equals the one Django made (compressed payload: compare the inflated JSON)', () => {
    const django =
      '.eJyrVipWslKKyo8pNTBITVKIKU2xME4BkqkGBgogMfM0MAXilcTkxRTFJMUARZQKY5QUYmIU9BVs9IuTizILSuyAyowMjCzAJhgYKNUCALaRGnA:1r31eq:cbreT21O_UAYwl531QRkCNPcPqmr8Yjrrt5RXquu3KY';
    const db = createSigner({ secret: 'test-secret', salt: DB_SALT });
    const value = { s: 'Zoë 😀 \x7f \x00 \t\n\r\b\f "q" \\ / </script> \u2028 \ud800' };
    assert.deepEqual(db.loads(django, { now: T }), { ok: true, value, timestamp: 1700000000 });
    const ours = db.dumps(value, T);
    assert.ok(ours.startsWith('.'), 'compressed, as Django compressed it');
    assert.deepEqual(db.loads(ours, { now: T }), { ok: true, value, timestamp: 1700000000 });
  });

  it("reads Python's bare NaN and Infinity as null", () => {
    const db = createSigner({ secret: 's', salt: DB_SALT });
    const payload = Buffer.from('{"a":NaN,"b":[Infinity,-Infinity],"c":"NaN"}').toString('base64url');
    const token = forge(payload, 's', DB_SALT);
    assert.deepEqual(db.loads(token, { now: T }), { ok: true, value: { a: null, b: [null, null], c: 'NaN' }, timestamp: 1700000000 });
  });
});

/** Signs an arbitrary payload as Django would, for inputs Django itself never writes. */
function forge(payload: string, secret: string, salt: string): string {
  const value = `${payload}:1r31eq`;
  return `${value}:${Buffer.from(saltedHmac(`${salt}signer`, value, secret)).toString('base64url')}`;
}

describe('Django signing: verification', () => {
  const db = createSigner({ secret: 'test-secret', salt: DB_SALT });
  const good = 'eyJjYXQiOiJkb2cifQ:1r31eq:gd-bXxukPuwYvoufRM91Vbm_wyuPcBPhXnKA0EtEp6s';

  it('a tampered payload, timestamp or signature does not verify', () => {
    for (const bad of [
      good.replace('eyJj', 'eyJk'),
      good.replace('1r31eq', '1r31er'),
      good.slice(0, -1) + 't',
      good.slice(0, -1),
      'no colon at all',
      'Zmxhc2tkajphbGtkamY=',
      'bad:encoded:value',
      '',
    ]) {
      assert.deepEqual(db.loads(bad, { now: T }), { ok: false, reason: 'signature' }, bad);
    }
  });

  it('a token signed with another secret (Django-made) does not verify', () => {
    assert.deepEqual(db.loads('eyJjYXQiOiJkb2cifQ:1r31eq:KJSm0fBypE2UxE1bp6_dfJCw6mPZSiRVCui8oiIirnY', { now: T }), {
      ok: false,
      reason: 'signature',
    });
  });

  it('a token for another salt (the cookie store) does not verify', () => {
    assert.equal(db.loads('eyJjYXQiOiJkb2cifQ:1r31eq:or5lsglRfetFdncdU2Aox9ybSSoBH7pCLi7z9dhc_CY', { now: T }).ok, false);
  });

  it('rotation: the first key signs, every key verifies', () => {
    const rotated = createSigner({ secret: ['new-secret', 'test-secret'], salt: DB_SALT });
    assert.equal(rotated.loads(good, { now: T }).ok, true);
    const fresh = rotated.dumps({ cat: 'dog' }, T);
    assert.equal(db.loads(fresh, { now: T }).ok, false, 'signed with the new key');
    assert.equal(createSigner({ secret: 'new-secret', salt: DB_SALT }).loads(fresh, { now: T }).ok, true);
  });

  it('max_age: expired only when the age is strictly greater', () => {
    assert.equal(db.loads(good, { maxAge: 10, now: T + 10_000 }).ok, true);
    assert.deepEqual(db.loads(good, { maxAge: 10, now: T + 10_001 }), { ok: false, reason: 'expired' });
  });

  it('a signed payload that does not decode is malformed, not an exception', () => {
    assert.deepEqual(db.loads(forge('!!!!', 'test-secret', DB_SALT), { now: T }), { ok: false, reason: 'malformed' });
    assert.deepEqual(db.loads(forge('.' + Buffer.from('not zlib').toString('base64url'), 'test-secret', DB_SALT), { now: T }), {
      ok: false,
      reason: 'malformed',
    });
  });

  it('a zip bomb is refused after the signature check, within the output cap', () => {
    const bomb = deflateSync(Buffer.from(`{"x":"${'a'.repeat(20 * 1024 * 1024)}"}`));
    const token = forge('.' + bomb.toString('base64url'), 'test-secret', DB_SALT);
    const capped = createSigner({ secret: 'test-secret', salt: DB_SALT, maxDecompressed: 1024 * 1024 });
    assert.deepEqual(capped.loads(token, { now: T }), { ok: false, reason: 'malformed' });
    // An unsigned bomb is never inflated at all.
    assert.deepEqual(capped.loads(token.slice(0, -2) + 'AA', { now: T }), { ok: false, reason: 'signature' });
  });

  it('compresses only when it saves at least 2 bytes', () => {
    assert.ok(!db.dumps({ cat: 'dog' }, T).startsWith('.'));
    assert.ok(db.dumps({ big: 'x'.repeat(500) }, T).startsWith('.'));
  });

  it('a missing or empty secret is a ConfigError', () => {
    for (const secret of ['', [], [''], undefined, 42]) {
      assert.throws(() => createSigner({ secret: secret as any, salt: DB_SALT }), ConfigError);
    }
  });
});

describe('the signer never signs what it cannot read back', () => {
  it('dumps refuses JSON over maxDecompressed with a SessionDataError naming the size and the cap; at the cap it round-trips', () => {
    const signer = createSigner({ secret: 'a-strong-enough-secret-for-this-unit-test-0123456789', salt: 's', maxDecompressed: 1000 });
    const over = { b: 'a'.repeat(1000) }; // {"b":"…"} is 1008 bytes
    assert.throws(
      () => signer.dumps(over),
      (err: unknown) => err instanceof SessionDataError && /1008 bytes/.test(err.message) && /1000 bytes/.test(err.message),
    );
    const at = { b: 'a'.repeat(992) };
    const r = signer.loads(signer.dumps(at));
    assert.ok(r.ok);
    assert.deepEqual(r.value, at);
  });
});
