/**
 * `npm run bench [-- <part>] [options]`: the benchmark. Not run by CI.
 *
 *   (no part) | throughput   req/s and CPU per request at saturation against the peers (docs/benchmark.md)
 *   curves                   cost against session size, store size and parallel requests (docs/bench/*.svg)
 *   observability            req/s with onEvent and with the OpenTelemetry SDK against neither; the metrics dashboard (docs/observability.md)
 *   memory                   bytes per stored session, per live session, eviction, clearExpired stalls
 *   profile                  one server (--filter group/impl/store) under wrk with --cpu-prof: top self-time functions (--route, --no-cookie)
 *   micro                    the session work of one request without HTTP, µs of CPU (before/after figures)
 *   device-bound             µs of server CPU per DBSC registration, refresh and bound request (docs/device-bound.md)
 *   redis-micro              RedisStore's client CPU per load and update against the raw client (--filter client/case)
 *   soak                     minutes of mixed traffic on the demo with the store killed every 30 s
 *   races                    revoke/flush against parallel rotations, modify+save limits, login of another user, on real stores
 *
 *   --quick            a short check: 3 rounds of 1 s, nothing written to the docs
 *   --rounds N         interleaved rounds (default 10)
 *   --seconds N        seconds per server, route and round (default 2)
 *   --connections N    wrk connections (default 32)
 *   --filter REGEX     only the servers whose id (group/impl/store) matches
 *   --routes LIST      only these routes, comma-separated: none-new, read-new, none, read, count
 *   --out FILE         where the results go (default docs/benchmark.md for a full run)
 *   races: --rounds N (default 5), --parallel N (default 200), --work-ms N (default 5), --filter REGEX (memory|sqlite|redis|postgres|cached)
 *   soak: --minutes N (default 10), --store URL|sqlite|redis|postgres (default redis), --kill-every S (default 30)
 */
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { curves } from './curves.js';
import { replaceBlock } from './lib/doc.js';
import { memory } from './memory.js';
import { observability } from './observability.js';
import { micro } from './micro.js';
import { profile } from './profile.js';
import { soak } from './soak.js';
import { throughput } from './throughput.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string', default: '32' },
    filter: { type: 'string' },
    out: { type: 'string' },
    minutes: { type: 'string' },
    store: { type: 'string' },
    'kill-every': { type: 'string' },
    route: { type: 'string' },
    'no-cookie': { type: 'boolean', default: false },
    parallel: { type: 'string' },
    routes: { type: 'string' },
    'work-ms': { type: 'string' },
  },
});
const part = positionals[0] ?? 'throughput';

// The servers and the in-process parts load sessionkit from a private copy of dist/, so a build
// started while the bench runs (npm test's, another worktree's) cannot pull it from under them.
if (!process.env.BENCH_DIST) {
  const snapshot = join(root, 'node_modules', '.cache', 'sessionkit-bench', String(process.pid));
  cpSync(join(root, 'dist'), snapshot, { recursive: true });
  process.env.BENCH_DIST = snapshot;
  process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }));
}
const quick = values.quick;
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

switch (part) {
  case 'throughput': {
    const { met, total } = await throughput({
      rounds: Number(values.rounds ?? (quick ? 3 : 10)),
      seconds: Number(values.seconds ?? (quick ? 1 : 2)),
      connections: Number(values.connections),
      filter: values.filter ? new RegExp(values.filter) : null,
      routes: values.routes ? values.routes.split(',') : null,
      out: values.out ?? (quick || values.filter || values.routes ? null : join(root, 'docs', 'benchmark.md')),
      command,
    });
    console.log(`targets met: ${met} of ${total}`);
    break;
  }
  case 'curves': {
    const text = await curves({
      quick,
      seconds: Number(values.seconds ?? (quick ? 1 : 2)),
      rounds: Number(values.rounds ?? (quick ? 1 : 2)),
      outDir: join(root, 'docs', 'bench'),
      only: positionals[1] ?? null,
    });
    if (!quick) replaceBlock(values.out ?? join(root, 'docs', 'benchmark.md'), 'curves', text);
    break;
  }
  case 'observability': {
    const text = await observability({
      quick,
      rounds: Number(values.rounds ?? (quick ? 2 : 8)),
      seconds: Number(values.seconds ?? (quick ? 1 : 2)),
      connections: Number(values.connections),
      outDir: join(root, 'docs', 'bench'),
      command,
      only: positionals[1] ?? null,
    });
    if (!quick && !positionals[1]) replaceBlock(values.out ?? join(root, 'docs', 'observability.md'), 'observability', text);
    break;
  }
  case 'memory': {
    const text = await memory({ quick });
    if (!quick) replaceBlock(values.out ?? join(root, 'docs', 'benchmark.md'), 'memory', text);
    break;
  }
  case 'profile':
    await profile({
      server: values.filter ?? 'node/sessionkit/memory',
      route: values.route ?? '/read',
      seconds: Number(values.seconds ?? 5),
      top: 15,
      cookie: !values['no-cookie'],
    });
    break;
  case 'micro':
    await micro();
    break;
  case 'device-bound': {
    const text = await (await import('./device-bound.js')).deviceBoundBench({ runs: quick ? 1 : 3, n: quick ? 50 : 200 });
    if (!quick) replaceBlock(values.out ?? join(root, 'docs', 'device-bound.md'), 'device-bound', text);
    break;
  }
  case 'redis-micro':
    await (await import('./redis-micro.js')).redisMicro({ filter: values.filter ? new RegExp(values.filter) : null });
    break;
  case 'soak': {
    const t = await soak({
      minutes: Number(values.minutes ?? (quick ? 1 : 10)),
      store: values.store ?? 'redis',
      killEverySeconds: Number(values['kill-every'] ?? (quick ? 10 : 30)),
      downSeconds: 2,
      clients: Number(values.connections === '32' ? 8 : values.connections),
    });
    if (t.lost || t.phantom) process.exitCode = 1;
    break;
  }
  case 'races': {
    const { races } = await import('./races.js');
    const text = await races({
      rounds: Number(values.rounds ?? (quick ? 2 : 5)),
      parallel: Number(values.parallel ?? 200),
      workMs: Number(values['work-ms'] ?? 5),
      filter: values.filter ? new RegExp(values.filter) : null,
    });
    if (values.out) writeFileSync(values.out, `${text}\n`);
    break;
  }
  default:
    console.error(
      `bench: unknown part ${JSON.stringify(part)}; use throughput, curves, memory, profile, micro, redis-micro, soak or races`,
    );
    process.exitCode = 2;
}
