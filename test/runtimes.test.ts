import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleForEdge } from './support/bundle.js';
import { installedProject, root } from './support/package.js';
import { binaries, installRuntimes, supported } from './support/runtimes.js';
import { freePort } from './support/ports.js';
import { DbscClient } from './support/dbsc-client.js';

/**
 * The app of test/runtimes/app.mjs (Hono + sessionkit/hono over MemoryStore and CookieStore, and
 * framework-free edge code) served by each runtime's own HTTP server, from the packed package
 * installed in a fresh project, and asked over HTTP: a first request gets 1 and a cookie, the
 * second, with the cookie, gets 2.
 * The runtimes come from test/support/runtimes.ts.
 */
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts `command` and resolves once `url` answers; the child is killed by pid after the tests. */
async function start(command: string, args: string[], cwd: string, url: string): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}:\n${output}`);
    try {
      await fetch(url);
      return child;
    } catch {
      if (Date.now() > deadline) throw new Error(`${command} did not answer at ${url} within 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100)); // polling a child process's port, not a clock under test
    }
  }
}

function stop(child: ChildProcess): void {
  child.kill('SIGKILL');
  children.delete(child);
}

/** Two requests of one visitor: the count is 1, then 2 with the cookie of the first. */
async function visit(base: string, path: string): Promise<void> {
  const first = await fetch(base + path);
  assert.equal(first.status, 200, `${path}: ${await first.clone().text()}`);
  assert.equal(await first.text(), '1');
  const setCookie = first.headers.get('set-cookie');
  assert.match(setCookie ?? '', /^sessionid=[^;]+; .*HttpOnly/i);
  const second = await fetch(base + path, { headers: { cookie: setCookie!.split(';')[0]! } });
  assert.equal(await second.text(), '2', path);
}

const PATHS = ['/memory/count', '/cookie/count', '/edge/count'];

/** A device-bound session (ES256 and RS256): sign-in, registration, a copied cookie refused, a refresh. */
async function visitBound(base: string): Promise<void> {
  for (const alg of ['ES256', 'RS256'] as const) {
    const c = new DbscClient(base, alg);
    await c.fetch('/bound/login');
    assert.equal(c.registration?.path, '/bound/dbsc/register');
    const reg = await c.register();
    assert.equal(reg.status, 200, `${alg} registration: ${await reg.clone().text()}`);
    assert.equal(await (await c.fetch('/bound/me')).text(), 'alice true', alg);
    assert.equal(await (await c.stolen().fetch('/bound/me')).text(), 'anonymous false', `${alg}: a copied session cookie`);
    const { first, final } = await c.refresh();
    assert.deepEqual([first.status, final.status], [403, 200], `${alg} refresh`);
  }
}

describe('sessionkit on real runtimes, over HTTP', { skip: supported ? false : 'runtime binaries are taken for linux-x64 only' }, () => {
  let project: string;
  before(() => {
    installRuntimes();
    project = installedProject();
    for (const file of ['app.mjs', 'serve-node.mjs', 'serve-bun.mjs', 'serve-deno.mjs']) {
      copyFileSync(join(root, 'test', 'runtimes', file), join(project, file));
    }
  });

  const servers: [string, () => string, (port: number) => string[]][] = [
    [`Node.js ${process.versions.node}`, () => process.execPath, (port) => ['serve-node.mjs', String(port)]],
    ['Node.js 22', binaries.node22, (port) => ['serve-node.mjs', String(port)]],
    ['Bun', binaries.bun, (port) => ['serve-bun.mjs', String(port)]],
    ['Deno', binaries.deno, (port) => ['run', '-A', 'serve-deno.mjs', String(port)]],
  ];
  for (const [name, binary, args] of servers) {
    it(`${name}: Hono over MemoryStore and CookieStore, the framework-free API, and device-bound sessions`, async () => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const child = await start(binary(), args(port), project, base + '/');
      try {
        for (const path of PATHS) await visit(base, path);
        await visitBound(base);
      } finally {
        stop(child);
      }
    });
  }

  for (const flags of [[], ['nodejs_compat']]) {
    it(`Cloudflare workerd ${flags.length ? 'with' : 'without'} nodejs_compat: the app bundled with no node: module`, async () => {
      const bundle = await bundleForEdge(project, join(project, 'app.mjs'), 'worker.mjs');
      const port = await freePort();
      const config = readFileSync(join(root, 'test', 'runtimes', 'worker.capnp.template'), 'utf8')
        .replaceAll('PORT', String(port))
        .replaceAll('BUNDLE', basename(bundle))
        .replaceAll('FLAGS', flags.map((f) => JSON.stringify(f)).join(', '));
      const configFile = join(project, `worker-${flags.length ? 'compat' : 'plain'}.capnp`);
      writeFileSync(configFile, config);
      const base = `http://127.0.0.1:${port}`;
      const child = await start(binaries.workerd(), ['serve', configFile], project, base + '/');
      try {
        for (const path of PATHS) await visit(base, path);
        await visitBound(base);
      } finally {
        stop(child);
      }
    });
  }
});
