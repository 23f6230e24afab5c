import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createSessions } from '../src/index.js';
import { SqliteStore } from '../src/stores/sqlite.js';

const run = promisify(execFile);
const worker = join(import.meta.dirname, 'support', 'sqlite-worker.ts');

describe('SqliteStore shared by several processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-procs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parallel modify appends and different keys from three processes all survive', async () => {
    const path = join(dir, 's.sqlite3');
    const sessions = createSessions({ store: new SqliteStore({ path }) });
    const s = await sessions.load();
    s.set('cart', []);
    const cookie = (await sessions.commit(s))!.split(';')[0]!;
    const labels = ['p1', 'p2', 'p3'];
    await Promise.all(labels.map((label) => run(process.execPath, ['--import', 'tsx', worker, path, cookie, label, '20'])));
    const after = await sessions.load(cookie);
    const cart = after.get('cart') as string[];
    assert.equal(cart.length, 60, 'every append from every process survives');
    for (const label of labels) {
      for (let i = 0; i < 20; i++) {
        assert.ok(cart.includes(`${label}-${i}`));
        assert.equal(after.get(`${label}-${i}`), i);
      }
    }
    await sessions.close();
  });
});
