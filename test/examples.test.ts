import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { linkPackage, root, start } from './support/apps.js';

before(() => linkPackage());

// The small examples run as their README says: node --import tsx server.ts.
for (const name of ['web', 'koa', 'h3']) {
  describe(`examples/${name}`, () => {
    it('counts per visitor, flashes once after the redirect, and sets the cookie only when the session changed', async () => {
      const app = await start('node', () => ['--import', 'tsx', 'server.ts'], join(root, 'examples', name), { SESSION_STORE: 'memory:' });
      try {
        const first = await fetch(app.url);
        assert.equal(await first.text(), 'count=0\n');
        assert.deepEqual(first.headers.getSetCookie(), []);
        const posted = await fetch(`${app.url}/count`, { method: 'POST', redirect: 'manual' });
        assert.equal(posted.status, 303);
        const cookie = posted.headers.getSetCookie()[0]!.split(';')[0]!;
        assert.match(cookie, /^sessionid=[a-z0-9]{32}$/);
        const shown = await fetch(app.url, { headers: { cookie } });
        assert.equal(await shown.text(), 'Counted to 1.\ncount=1\n');
        assert.match(shown.headers.get('vary') ?? '', /Cookie/);
        const again = await fetch(app.url, { headers: { cookie } });
        assert.equal(await again.text(), 'count=1\n', 'the flash was read once');
        assert.deepEqual(again.headers.getSetCookie(), []);
        assert.equal(await (await fetch(app.url)).text(), 'count=0\n', 'another visitor');
      } finally {
        await app.close();
      }
    });
  });
}
