import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as reference from 'cookie';
import { parseSetCookie, type SerializeOptions, serialize } from './set-cookie.js';

/** What each function answers (or the TypeError message it throws). */
const outcome = (fn: () => unknown) => {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
};

describe('set-cookie: the same answers as jshttp/cookie 1.x', () => {
  const names = ['sessionid', '__Host-sessionid', 'a b', 'semi;colon', 'eq=ual', ''];
  const values = ['', 'abc123', 'with space', 'ünïcode', 'a;b', '%41'];
  const options: SerializeOptions[] = [
    {},
    { maxAge: 1209600, path: '/', httpOnly: true, sameSite: 'lax' },
    { maxAge: 0, expires: new Date(0), domain: 'example.com', secure: true, partitioned: true, sameSite: 'none' },
    { maxAge: 1.5 },
    { domain: 'bad domain' },
    { path: '/a;b' },
    { expires: new Date(Number.NaN) },
    { sameSite: 'strict', priority: 'high' },
    { sameSite: true },
    { sameSite: 'sideways' as never },
    { priority: 'urgent' as never },
    { encode: (v) => v },
  ];

  it('serialize: every name × value × options case', () => {
    let cases = 0;
    for (const name of names)
      for (const value of values)
        for (const o of options) {
          assert.deepEqual(
            outcome(() => serialize(name, value, o)),
            outcome(() => reference.serialize(name, value, o as reference.SerializeOptions)),
            `${name} ${value} ${JSON.stringify(o)}`,
          );
          cases++;
        }
    assert.equal(cases, names.length * values.length * options.length);
  });

  it('parseSetCookie: what serialize writes, and headers as servers send them', () => {
    const headers = [
      ...options.flatMap((o) => [outcome(() => serialize('sessionid', 'abc', o)).value].filter((v): v is string => typeof v === 'string')),
      'sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
      ' spaced = value%20here ; path = / ; max-age = 60 ; samesite = Lax ; httponly',
      'novalue',
      'x=1; Max-Age=abc; Expires=never; Priority=LOW; SameSite=weird; Domain=.example.com',
    ];
    for (const header of headers) assert.deepEqual({ ...parseSetCookie(header) }, { ...reference.parseSetCookie(header) }, header);
  });
});
