import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { saltedHmac } from '../core/signing.js';
import { recordingLogger } from '../testing/store-suite.js';
import { djangoCodec } from './codec.js';

const T = 1700000000_000;
/** A strong SECRET_KEY (Django's get_random_secret_key makes 50 characters like it). */
const STRONG = 'k3#x9!q2@v8$w7%e6^r5&t4*y3(u2)i1_o0+p9-a8=s7d6f5g4h3j2';

describe('djangoCodec (Django SessionBase.encode / decode)', () => {
  it('encodes the worked example of django-format.md byte for byte', () => {
    const codec = djangoCodec({ secret: 'test-secret' });
    assert.equal(codec.encode({ cat: 'dog' }, T), 'eyJjYXQiOiJkb2cifQ:1r31eq:gd-bXxukPuwYvoufRM91Vbm_wyuPcBPhXnKA0EtEp6s');
    assert.deepEqual(codec.decode('eyJjYXQiOiJkb2cifQ:1r31eq:gd-bXxukPuwYvoufRM91Vbm_wyuPcBPhXnKA0EtEp6s'), { cat: 'dog' });
  });

  it('decode round-trips encode (test_decode)', () => {
    const codec = djangoCodec({ secret: STRONG });
    assert.deepEqual(codec.decode(codec.encode({ 'a test key': 'a test value' })), { 'a test key': 'a test value' });
  });

  it('a failure to verify is {} and a security warning (test_decode_failure_logged_to_security)', () => {
    for (const bad of ['Zmxhc2tkajphbGtkamY=', 'bad:encoded:value']) {
      const logger = recordingLogger();
      assert.deepEqual(djangoCodec({ secret: STRONG, logger }).decode(bad), {});
      assert.equal(logger.records.length, 1);
      assert.match(logger.records[0]!.message, /Session data corrupted/);
    }
  });

  it('a correctly signed payload that does not decode is {} without a log (test_decode_serializer_exception)', () => {
    const logger = recordingLogger();
    const value = 'invalid data:1r31eq';
    const token = `${value}:${Buffer.from(saltedHmac('django.contrib.sessions.SessionStoresigner', value, STRONG)).toString('base64url')}`;
    assert.deepEqual(djangoCodec({ secret: STRONG, logger }).decode(token), {});
    assert.equal(logger.records.length, 0);
  });

  it('a signed_cookies token is not session data (another salt)', () => {
    const logger = recordingLogger();
    const codec = djangoCodec({ secret: 'test-secret', logger }); // the worked example's (weak) key: warned about once here
    const before = logger.records.length;
    assert.deepEqual(codec.decode('eyJjYXQiOiJkb2cifQ:1r31eq:or5lsglRfetFdncdU2Aox9ybSSoBH7pCLi7z9dhc_CY'), {});
    assert.equal(logger.records.length - before, 1);
  });

  it("Django's SECRET_KEY is taken as it is: a weak one (security.W009) warns once at construction, a strong one not at all", () => {
    const logger = recordingLogger();
    const codec = djangoCodec({ secret: ['s', 'django-insecure-0'], logger });
    assert.equal(logger.records.length, 1);
    assert.match(logger.records[0]!.message, /SECRET_KEY is weak.*openssl rand -base64 48/);
    assert.deepEqual(codec.decode(codec.encode({ a: 1 })), { a: 1 });
    const quiet = recordingLogger();
    djangoCodec({ secret: STRONG, logger: quiet });
    assert.equal(quiet.records.length, 0);
  });

  it('decode never throws, whatever it is given', () => {
    const codec = djangoCodec({ secret: STRONG, logger: recordingLogger() });
    for (const junk of ['', ':', '::', '\u0000', 'a'.repeat(100000), undefined, null, 42] as any[])
      assert.deepEqual(codec.decode(junk), {});
  });

  it('a rotated secret still decodes old data; new data is signed with the first key', () => {
    const OLD = `old-${STRONG}`;
    const NEW = `new-${STRONG}`;
    const old = djangoCodec({ secret: OLD });
    const rotated = djangoCodec({ secret: [NEW, OLD] });
    assert.deepEqual(rotated.decode(old.encode({ a: 1 })), { a: 1 });
    assert.deepEqual(djangoCodec({ secret: NEW }).decode(rotated.encode({ a: 2 })), { a: 2 });
  });
});
