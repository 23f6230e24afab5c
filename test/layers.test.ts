/**
 * The layering of src/: core owns the contract it calls and imports nothing outside core;
 * stores import nothing from django, adapters or the CLI. (Import cycles are caught by madge in
 * `npm test`'s pretest.) Django's store URLs come from importing sessionkit/django.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, createStore } from '../src/index.js';

const src = join(import.meta.dirname, '..', 'src');

/** Every relative import of every non-test module under src/, as [importer, imported] folder-relative paths. */
function imports(): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      out.push([relative(src, file), relative(src, resolve(dirname(file), m[1]!))]);
    }
  }
  return out;
}

const layer = (path: string) => path.split(/[\\/]/)[0]!;

describe('layers of src/', () => {
  const all = imports();

  it('finds the imports it checks', () => {
    assert.ok(all.some(([from, to]) => from.startsWith('stores') && to.startsWith('core')));
  });

  it('core imports nothing outside core', () => {
    const bad = all.filter(([from, to]) => layer(from) === 'core' && layer(to) !== 'core');
    assert.deepEqual(bad, []);
  });

  it('stores import nothing from django, adapters, cli or testing', () => {
    const bad = all.filter(([from, to]) => layer(from) === 'stores' && ['django', 'adapters', 'cli', 'testing'].includes(layer(to)));
    assert.deepEqual(bad, []);
  });

  it('django+ store URLs are known once sessionkit/django is imported', async () => {
    assert.throws(
      () => createStore('django+sqlite:./db.sqlite3'),
      (e: unknown) => e instanceof ConfigError && /sessionkit\/django/.test(e.message),
    );
    const { DjangoStore } = await import('../src/django/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'sessionkit-layers-'));
    const file = join(dir, 'db.sqlite3');
    writeFileSync(file, ''); // an empty file is an empty SQLite database
    const saved = process.env.DJANGO_SECRET_KEY;
    process.env.DJANGO_SECRET_KEY = 'layers-test-secret';
    try {
      const store = createStore(`django+sqlite:${file}`);
      assert.ok(store instanceof DjangoStore);
      await store.close();
    } finally {
      if (saved === undefined) delete process.env.DJANGO_SECRET_KEY;
      else process.env.DJANGO_SECRET_KEY = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
