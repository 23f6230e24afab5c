import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from './errors.js';
import { type CsrfRequest, checkCsrfHeaders, requestOrigin, resolveCsrfOptions } from './csrf.js';
import { csrfTokenMatches, maskCsrfSecret, newCsrfSecret } from './csrf-token.js';

const req = (headers: Record<string, string>, protocol = 'http', host = 'shop.example'): CsrfRequest => ({
  method: 'POST',
  header: (name) => headers[name],
  protocol,
  host,
});

describe('core CSRF decision', () => {
  it('options are checked once: origins must be bare origins, trustProxy true, false or a count', () => {
    for (const bad of [
      { trustedOrigins: ['shop.example'] },
      { trustedOrigins: ['https://a.example/path'] },
      { trustedOrigins: 'https://a.example' },
      { trustProxy: 0 },
      { trustProxy: 'yes' },
    ]) {
      assert.throws(() => resolveCsrfOptions(bad as never), ConfigError, JSON.stringify(bad));
    }
    assert.deepEqual([...resolveCsrfOptions({ trustedOrigins: ['https://A.example:443'] }).trusted], ['https://a.example']);
  });

  it("the request's own origin: scheme, host and port, from X-Forwarded-* only as trustProxy allows", () => {
    const behind = req({ 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'shop.example, inner:8080' }, 'http', 'inner:8080');
    assert.equal(requestOrigin(behind), 'http://inner:8080');
    assert.equal(requestOrigin(behind, true), 'https://shop.example');
    assert.equal(requestOrigin(behind, 1), 'http://inner:8080', 'one proxy: the entry it added');
    assert.equal(requestOrigin(behind, 2), 'https://shop.example');
    assert.equal(requestOrigin(req({}, 'http', 'shop.example:80')), 'http://shop.example', 'the default port');
    assert.equal(requestOrigin(req({}, 'http', 'evil.example/x')), null, 'a host with a path is no host');
    assert.equal(requestOrigin(req({}, 'http', '')), null);
  });

  it('Sec-Fetch-Site first, then Origin; Referer is never read; neither leaves it to the token', () => {
    const o = resolveCsrfOptions({ trustedOrigins: ['https://front.example'] });
    assert.deepEqual(checkCsrfHeaders(req({ 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }), o), { ok: true });
    assert.equal(checkCsrfHeaders(req({ 'sec-fetch-site': 'same-site', origin: 'http://shop.example' }), o)?.ok, false);
    assert.equal(checkCsrfHeaders(req({ 'sec-fetch-site': 'cross-site', origin: 'https://front.example' }), o)?.ok, true);
    assert.equal(checkCsrfHeaders(req({ origin: 'http://shop.example' }), o)?.ok, true);
    assert.equal(checkCsrfHeaders(req({ origin: 'https://shop.example' }), o)?.ok, false, 'another scheme');
    assert.equal(checkCsrfHeaders(req({ origin: 'null' }), o)?.ok, false);
    assert.equal(checkCsrfHeaders(req({ referer: 'https://evil.example/' }), o), null);
    assert.deepEqual(checkCsrfHeaders({ ...req({ origin: 'https://evil.example' }), method: 'GET' }, o), { ok: true });
  });

  it('masked tokens: a new mask each time, every one verifies against its secret only, and the bare secret still verifies', () => {
    const secret = newCsrfSecret();
    const tokens = new Set(Array.from({ length: 50 }, () => maskCsrfSecret(secret)));
    assert.equal(tokens.size, 50);
    for (const t of tokens) assert.equal(csrfTokenMatches(secret, t), true);
    const other = newCsrfSecret();
    for (const t of tokens) assert.equal(csrfTokenMatches(other, t), false);
    assert.equal(csrfTokenMatches(secret, secret), true);
    const django = 'AbCdEfGhIjKlMnOpQrStUvWxYz012345'; // a Django site's 32-character secret
    assert.equal(csrfTokenMatches(django, maskCsrfSecret(django)), true);
  });
});
