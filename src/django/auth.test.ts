import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { djangoUser, sessionAuthHash, verifyDjangoUserHash } from './auth.js';

// Made by Django 3.2.25: User.objects.create_user("alice", password="pw") with SECRET_KEY = "test-secret"
// and the MD5 hasher, then django.contrib.auth.login(); the session held these values.
const PASSWORD = 'md5$f2iEHYWAShBOCbxQMk2MvY$54cdd2505ebe3f7836a5e9684b102c0f';
const SESSION = {
  _auth_user_id: '1',
  _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
  _auth_user_hash: 'c2b4cba338b83d07f36449c4dc057c8a7e42cb9f91b3f16459db2c6f69d2d156',
};

describe('djangoUser and the session auth hash', () => {
  it('reads the logged-in user from the session keys django.contrib.auth writes', () => {
    assert.deepEqual(djangoUser(SESSION), { id: '1', backend: 'django.contrib.auth.backends.ModelBackend', hash: SESSION._auth_user_hash });
    assert.deepEqual(djangoUser({ get: (k: string) => (SESSION as Record<string, string>)[k] }), djangoUser(SESSION));
  });

  it('nobody logged in, or a half-written login, is null', () => {
    assert.equal(djangoUser({}), null);
    assert.equal(djangoUser({ _auth_user_id: '1' }), null);
    assert.equal(djangoUser({ _auth_user_backend: 'x' }), null);
    assert.equal(djangoUser({ _auth_user_id: { evil: 1 }, _auth_user_backend: 'x' }), null);
  });

  it("computes Django's get_session_auth_hash", () => {
    assert.equal(sessionAuthHash(PASSWORD, 'test-secret'), SESSION._auth_user_hash);
  });

  it('verifies against the current password hash; a changed password or secret fails', () => {
    assert.equal(verifyDjangoUserHash(SESSION, PASSWORD, 'test-secret'), true);
    assert.equal(verifyDjangoUserHash(SESSION, PASSWORD.replace(/.$/, '0'), 'test-secret'), false);
    assert.equal(verifyDjangoUserHash(SESSION, PASSWORD, 'other-secret'), false);
    assert.equal(verifyDjangoUserHash({ ...SESSION, _auth_user_hash: '' }, PASSWORD, 'test-secret'), false);
    assert.equal(verifyDjangoUserHash({}, PASSWORD, 'test-secret'), false);
  });

  it('verifies against each fallback secret too (SECRET_KEY_FALLBACKS)', () => {
    assert.equal(verifyDjangoUserHash(SESSION, PASSWORD, ['new-secret', 'test-secret']), true);
  });
});
