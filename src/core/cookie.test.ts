import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'cookie';
import fc from 'fast-check';
import { readCookie } from './cookie.js';

test('readCookie finds what the cookie library parses, on any header', () => {
  // headers built from the characters that matter to the parser, around names that may repeat
  const piece = fc.constantFrom('sessionid', 'sid', 'a', '=', ';', ' ', '\t', '%', '%41', '%zz', '"', 'x', 'abc123', '');
  const header = fc.array(piece, { maxLength: 24 }).map((parts) => parts.join(''));
  fc.assert(
    fc.property(header, fc.constantFrom('sessionid', 'sid', 'a'), (h, name) => {
      assert.equal(readCookie(h, name), parse(h)[name], JSON.stringify(h));
    }),
    { numRuns: 20_000 },
  );
});

test('readCookie: the first of repeated names, trimmed, percent-decoded; absent names and headers', () => {
  assert.equal(readCookie('a=1; sessionid=k1; sessionid=k2', 'sessionid'), 'k1');
  assert.equal(readCookie('  sessionid \t=  k1  ;x=2', 'sessionid'), 'k1');
  assert.equal(readCookie('xsessionid=k0; sessionid=k1', 'sessionid'), 'k1');
  assert.equal(readCookie('sessionid=a%20b', 'sessionid'), 'a b');
  assert.equal(readCookie('sessionid=%zz', 'sessionid'), '%zz');
  assert.equal(readCookie('sessionid; sessionid=k', 'sessionid'), 'k');
  assert.equal(readCookie('other=1', 'sessionid'), undefined);
  assert.equal(readCookie(undefined, 'sessionid'), undefined);
});
