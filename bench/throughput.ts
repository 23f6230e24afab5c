/**
 * Throughput at saturation: sessionkit against the bare frameworks and the peer libraries.
 *
 * Every server of a comparison (one framework) is started at once, each in its own process pinned
 * to core 0; wrk runs pinned to core 1. The servers are measured in interleaved rounds
 * (A B C A B C …), so a machine whose load drifts affects them alike, and every ratio is the median
 * of the per-round ratios, printed with its spread. Server CPU time per request comes from
 * /proc/PID/stat.
 */
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { replaceBlock } from './lib/doc.js';
import { cpuMicros, cpuModel, cpuShare, median, quantile } from './lib/proc.js';
import { type Server, startServer, visitorCookies } from './lib/server.js';
import { cookieFile, ensureWrk, wrk, type WrkResult } from './lib/wrk.js';
import { startRedis, stopAll } from '../test/support/redis.js';

export interface ThroughputOptions {
  rounds: number;
  seconds: number;
  connections: number;
  filter: RegExp | null;
  /** Markdown file whose results block is replaced (null: print only) */
  out: string | null;
  /** Only these routes (none-new, read-new, none, read, count); null: all */
  routes?: string[] | null;
  command: string;
}

type RouteId = 'none-new' | 'read-new' | 'none' | 'read' | 'count';
const ROUTES: Record<RouteId, { path: string; cookie: boolean; label: string }> = {
  'none-new': { path: '/none', cookie: false, label: '/none, no cookie' },
  'read-new': { path: '/read', cookie: false, label: '/read, no cookie' },
  none: { path: '/none', cookie: true, label: '/none, cookie' },
  read: { path: '/read', cookie: true, label: '/read' },
  count: { path: '/count', cookie: true, label: '/count' },
};
const ALL_ROUTES = Object.keys(ROUTES) as RouteId[];
const WRITE_ROUTES: RouteId[] = ['read', 'count'];

interface Cell {
  group: string;
  id: string;
  label: string;
  framework: string;
  env: Record<string, string>;
  routes: RouteId[];
  needsRedis?: boolean;
}

interface Round extends WrkResult {
  /** server CPU per response, µs */
  cpu: number;
  /** share of one core the server used */
  busy: number;
}

const require = createRequire(import.meta.url);
const resolvable = (name: string) => {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};

function cells(): Cell[] {
  const out: Cell[] = [];
  const add = (group: string, framework: string, impl: string, store: string, label: string, routes: RouteId[], extra = {}) =>
    out.push({
      group,
      framework,
      id: `${group}/${impl}${store === 'none' ? '' : `/${store}`}`,
      label,
      env: { BENCH_IMPL: impl, BENCH_STORE: store, ...extra },
      routes,
      needsRedis: store === 'redis',
    });
  const sk = (group: string, framework: string, extra = {}) => {
    add(group, framework, 'sessionkit', 'memory', 'sessionkit MemoryStore', ALL_ROUTES, extra);
    add(group, framework, 'sessionkit', 'sqlite', 'sessionkit SqliteStore', WRITE_ROUTES, extra);
    add(group, framework, 'sessionkit', 'redis', 'sessionkit RedisStore', WRITE_ROUTES, extra);
    add(group, framework, 'sessionkit', 'cookie', 'sessionkit CookieStore', WRITE_ROUTES, extra);
  };
  add('node', 'node', 'bare', 'none', 'bare node:http', ALL_ROUTES);
  sk('node', 'node');
  add('node', 'node', 'iron-session', 'cookie', 'iron-session', WRITE_ROUTES);

  add('fastify', 'fastify', 'bare', 'none', 'bare Fastify', ALL_ROUTES);
  sk('fastify', 'fastify');
  add('fastify', 'fastify', 'fastify-session', 'memory', '@fastify/session memory', WRITE_ROUTES);
  add('fastify', 'fastify', 'fastify-session', 'redis', '@fastify/session connect-redis', WRITE_ROUTES);
  add('fastify', 'fastify', 'iron-session', 'cookie', 'iron-session', WRITE_ROUTES);

  for (const [group, module] of [
    ['express', 'express'],
    ['express4', 'express4'],
  ] as const) {
    if (!resolvable(module)) continue;
    const extra = { BENCH_EXPRESS: module };
    const name = group === 'express' ? 'Express 5' : 'Express 4';
    add(group, 'express', 'bare', 'none', `bare ${name}`, ALL_ROUTES, extra);
    add(group, 'express', 'sessionkit', 'memory', 'sessionkit MemoryStore', ALL_ROUTES, extra);
    add(group, 'express', 'sessionkit', 'redis', 'sessionkit RedisStore', WRITE_ROUTES, extra);
    add(group, 'express', 'express-session', 'memory', 'express-session MemoryStore', WRITE_ROUTES, extra);
    add(group, 'express', 'express-session', 'redis', 'express-session connect-redis', WRITE_ROUTES, extra);
    if (group === 'express') {
      add(group, 'express', 'sessionkit', 'sqlite', 'sessionkit SqliteStore', WRITE_ROUTES, extra);
      add(group, 'express', 'sessionkit', 'cookie', 'sessionkit CookieStore', WRITE_ROUTES, extra);
      add(group, 'express', 'iron-session', 'cookie', 'iron-session', WRITE_ROUTES, extra);
    }
  }

  add('hono', 'hono', 'bare', 'none', 'bare Hono', ALL_ROUTES);
  add('hono', 'hono', 'empty', 'none', 'Hono + empty middleware', ALL_ROUTES);
  add('hono', 'hono', 'sessionkit', 'memory', 'sessionkit MemoryStore', ALL_ROUTES);
  // BENCH_BEFORE=path/to/another/dist: each sessionkit server twice, this build and that one
  const before = process.env.BENCH_BEFORE;
  if (before)
    for (const c of out.filter((c) => c.env.BENCH_IMPL === 'sessionkit').reverse())
      out.splice(out.indexOf(c) + 1, 0, {
        ...c,
        id: `${c.id}/before`,
        label: `${c.label} (before)`,
        env: { ...c.env, BENCH_DIST: before },
      });
  return out;
}

const GROUP_NAMES: Record<string, string> = {
  node: 'node:http',
  fastify: 'Fastify 5',
  express: 'Express 5',
  express4: 'Express 4',
  hono: 'Hono 4 on @hono/node-server',
};

interface Target {
  what: string;
  a: string;
  b: string;
  route: RouteId;
  min: number;
}

function targets(have: Set<string>): Target[] {
  const t: Target[] = [];
  const add = (what: string, a: string, b: string, route: RouteId, min: number) => {
    if (have.has(a) && have.has(b)) t.push({ what, a, b, route, min });
  };
  for (const g of ['node', 'fastify', 'express', 'express4', 'hono']) {
    const G = GROUP_NAMES[g]!.split(' on ')[0];
    for (const r of ['none-new', 'read-new'] as const)
      add(`${G}, ${ROUTES[r].label}: MemoryStore vs bare`, `${g}/sessionkit/memory`, `${g}/bare`, r, 0.97);
  }
  for (const g of ['node', 'fastify']) {
    const G = GROUP_NAMES[g];
    add(`${G} /read: MemoryStore vs bare`, `${g}/sessionkit/memory`, `${g}/bare`, 'read', 0.85);
    add(`${G} /count: MemoryStore vs bare`, `${g}/sessionkit/memory`, `${g}/bare`, 'count', 0.8);
    add(`${G} /read: SqliteStore vs bare`, `${g}/sessionkit/sqlite`, `${g}/bare`, 'read', 0.75);
    add(`${G} /count: SqliteStore vs bare`, `${g}/sessionkit/sqlite`, `${g}/bare`, 'count', 0.6);
    for (const r of WRITE_ROUTES)
      add(`${G} /${r}: CookieStore vs iron-session`, `${g}/sessionkit/cookie`, `${g}/iron-session/cookie`, r, 5);
  }
  for (const r of WRITE_ROUTES)
    add(`Fastify 5 /${r}: MemoryStore vs @fastify/session`, 'fastify/sessionkit/memory', 'fastify/fastify-session/memory', r, 3);
  for (const g of ['express', 'express4']) {
    const G = GROUP_NAMES[g];
    for (const store of ['memory', 'redis'])
      for (const r of WRITE_ROUTES) {
        const S = store === 'memory' ? 'MemoryStore' : 'RedisStore';
        add(`${G} /${r}: ${S} vs bare`, `${g}/sessionkit/${store}`, `${g}/bare`, r, 0.92);
        add(`${G} /${r}: ${S} vs express-session ${store}`, `${g}/sessionkit/${store}`, `${g}/express-session/${store}`, r, 1.5);
      }
  }
  add('Hono /read: MemoryStore vs Hono + empty middleware', 'hono/sessionkit/memory', 'hono/empty', 'read', 0.85);
  return t;
}

async function measure(server: Server, route: RouteId, cookies: string, seconds: number, connections: number, nice = 0): Promise<Round> {
  const c0 = cpuMicros(server.pid);
  const t0 = performance.now();
  const r = await wrk({
    url: server.base,
    path: ROUTES[route].path,
    cookies: ROUTES[route].cookie ? cookies : '',
    seconds,
    connections,
    nice,
  });
  const used = cpuMicros(server.pid) - c0;
  const wall = (performance.now() - t0) * 1000;
  return { ...r, cpu: used / Math.max(1, r.requests), busy: used / (r.duration * 1e6 || wall) };
}

const fmtRatio = (xs: number[]) => {
  if (!xs.length) return '';
  const m = median(xs);
  return `${m.toFixed(2)}× (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}, IQR ${quantile(xs, 0.25).toFixed(2)}–${quantile(xs, 0.75).toFixed(2)})`;
};

export async function throughput(o: ThroughputOptions): Promise<{ met: number; total: number }> {
  ensureWrk();
  const unknown = (o.routes ?? []).filter((r) => !(r in ROUTES));
  if (unknown.length) throw new Error(`bench: unknown route ${unknown.join(', ')}; use ${ALL_ROUTES.join(', ')}`);
  const all = cells()
    .filter((c) => !o.filter || o.filter.test(c.id))
    .map((c) => ({ ...c, routes: c.routes.filter((r) => !o.routes || o.routes.includes(r)) }))
    .filter((c) => c.routes.length > 0);
  const results = new Map<string, Map<RouteId, Round[]>>();
  const startedAt = new Date();
  const measurements = all.reduce((n, c) => n + c.routes.length, 0);
  console.log(
    `bench: ${all.length} servers, ${measurements} server×route cells × ${o.rounds} rounds × ${o.seconds} s, ${o.connections} connections: about ${((measurements * (o.rounds + 1) * (o.seconds + 0.3)) / 60).toFixed(0)} min`,
  );
  let redisUrl = '';
  const saturation: string[] = [];
  try {
    if (all.some((c) => c.needsRedis)) {
      const redis = await startRedis();
      redisUrl = redis.url;
      console.log(`redis-server ${redisUrl} (pid ${redis.pid}), not pinned`);
    }
    for (const group of Object.keys(GROUP_NAMES)) {
      const gcells = all.filter((c) => c.group === group);
      if (!gcells.length) continue;
      const servers: { cell: Cell; server: Server; cookies: string }[] = [];
      try {
        for (const cell of gcells) {
          const server = await startServer({ framework: cell.framework, env: { ...cell.env, BENCH_REDIS_URL: redisUrl } });
          const cookies = cookieFile(await visitorCookies(server.base, 256));
          servers.push({ cell, server, cookies });
          results.set(cell.id, new Map(cell.routes.map((r) => [r, []])));
        }
        if (group === 'node' && servers[0]?.cell.id === 'node/bare') {
          // First: does wrk saturate a bare node:http server? Its CPU should be ~100% of its core.
          // A core of this machine is not the server's own: other work (and other virtual machines)
          // take part of it. A CPU-bound probe pinned to core 0 right after each run says how much
          // of the core a process could get; a saturated server uses about that much.
          const { server, cookies } = servers[0];
          await measure(server, 'read', cookies, 1, o.connections);
          for (const c of [8, 32, 64]) {
            const m = await measure(server, 'read', cookies, Math.max(1, o.seconds), c);
            const share = cpuShare(0, 1000);
            const line = `bare node:http /read, ${c} connections: ${m.rps.toFixed(0)} req/s, server CPU ${(100 * m.busy).toFixed(0)}% of wall time (a CPU-bound probe on the same core got ${(100 * share).toFixed(0)}% right after), ${m.cpu.toFixed(1)} µs CPU/request, p99 ${m.p99.toFixed(2)} ms`;
            saturation.push(line);
            console.log(`saturation: ${line}`);
          }
        }
        for (const { server, cell, cookies } of servers) for (const r of cell.routes) await measure(server, r, cookies, 1, o.connections); // JIT warm-up
        for (let round = 1; round <= o.rounds; round++) {
          for (const route of ALL_ROUTES) {
            const line: string[] = [];
            for (const { server, cell, cookies } of servers) {
              if (!cell.routes.includes(route)) continue;
              const m = await measure(server, route, cookies, o.seconds, o.connections);
              results.get(cell.id)!.get(route)!.push(m);
              const bad = m.errors || m.non2xx ? ` !${m.errors}err/${m.non2xx}non2xx` : '';
              line.push(
                `${cell.id.slice(group.length + 1)} ${(m.rps / 1000).toFixed(1)}k ${m.cpu.toFixed(1)}µs ${(100 * m.busy).toFixed(0)}%${bad}`,
              );
            }
            console.log(`${group} round ${round} ${route}: ${line.join(' | ')}`);
          }
        }
      } finally {
        await Promise.all(servers.map((s) => s.server.stop()));
      }
    }
  } finally {
    await stopAll();
  }

  // ---- report ----
  const rounds = (id: string, r: RouteId) => results.get(id)?.get(r) ?? [];
  const perRound = (a: string, b: string, r: RouteId, f: (x: Round, y: Round) => number) => {
    const xs = rounds(a, r);
    const ys = rounds(b, r);
    return xs.slice(0, ys.length).map((x, i) => f(x, ys[i]!));
  };
  const rpsRatios = (a: string, b: string, r: RouteId) => perRound(a, b, r, (x, y) => x.rps / y.rps);
  const cpuRatios = (a: string, b: string, r: RouteId) => perRound(a, b, r, (x, y) => y.cpu / x.cpu);

  const lines: string[] = [];
  lines.push(
    `Command: \`${o.command}\`, run on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC. ` +
      `Machine: ${cpus().length} × ${cpuModel()}, node ${process.version}, shared with other work. ` +
      `Each server in its own process pinned to core 0 (\`taskset -c 0\`), wrk 4.1 with 1 thread and ${o.connections} connections pinned to core 1; ` +
      `${o.rounds} interleaved rounds of ${o.seconds} s per server and route after a 1 s warm-up; 256 visitors' sessions per server, cookies rotated per request.`,
    '',
  );
  if (saturation.length) {
    lines.push('**Saturation check** (wrk against a bare node:http server before the rounds):', '');
    for (const s of saturation) lines.push(`- ${s}`);
    lines.push('');
  }
  const ts = targets(new Set(all.map((c) => c.id)));
  let met = 0;
  const trows: string[] = [];
  for (const t of ts) {
    const xs = rpsRatios(t.a, t.b, t.route);
    if (!xs.length) continue;
    const ok = median(xs) >= t.min;
    if (ok) met++;
    trows.push(
      `| ${t.what} | ${fmtRatio(xs)} | ${median(cpuRatios(t.a, t.b, t.route)).toFixed(2)}× | ≥ ${t.min}× | ${ok ? 'yes' : '**no**'} |`,
    );
  }
  lines.push(`### Targets: ${met} of ${trows.length} met`, '');
  lines.push(
    'Ratio of req/s, the median of the per-round ratios (min–max, interquartile range). `by CPU` is the same comparison from server CPU time per request (inverted, higher is better).',
    '',
  );
  lines.push('| comparison | req/s ratio (spread) | by CPU | goal | met |', '|---|---|---:|---:|:---:|', ...trows, '');

  for (const group of Object.keys(GROUP_NAMES)) {
    const gcells = all.filter((c) => c.group === group);
    if (!gcells.length) continue;
    const bare = `${group}/bare`;
    lines.push(`### ${GROUP_NAMES[group]}`, '');
    lines.push('| route | server | req/s | CPU µs/req | server busy | p99 ms | × bare (spread) |', '|---|---|---:|---:|---:|---:|---|');
    for (const route of ALL_ROUTES) {
      for (const c of gcells) {
        const rs = rounds(c.id, route);
        if (!rs.length) continue;
        const errs = rs.reduce((n, x) => n + x.errors + x.non2xx, 0);
        lines.push(
          `| ${ROUTES[route].label} | ${c.label} | ${median(rs.map((x) => x.rps)).toFixed(0)}${errs ? ` (${errs} errors)` : ''} | ${median(rs.map((x) => x.cpu)).toFixed(1)} | ` +
            `${(100 * median(rs.map((x) => x.busy))).toFixed(0)}% | ${median(rs.map((x) => x.p99)).toFixed(2)} | ${c.id === bare ? '' : fmtRatio(rpsRatios(c.id, bare, route))} |`,
        );
      }
    }
    lines.push('');
  }
  // BENCH_BEFORE: each sessionkit server against the same server of the other build, per round.
  const pairs = all.filter((c) => all.some((b) => b.id === `${c.id}/before`));
  if (pairs.length) {
    lines.push('### This build against the build before (BENCH_BEFORE)', '');
    lines.push(
      'Per-round ratios of req/s, median (min–max, IQR); `by CPU` compares server CPU time per request (inverted, higher is better).',
      '',
    );
    lines.push(
      '| group | route | server | this build × bare | before × bare | this build ÷ before | by CPU |',
      '|---|---|---|---|---|---|---:|',
    );
    for (const c of pairs) {
      const bare = `${c.group}/bare`;
      const b = `${c.id}/before`;
      for (const route of c.routes)
        lines.push(
          `| ${GROUP_NAMES[c.group]} | ${ROUTES[route].label} | ${c.label} | ${fmtRatio(rpsRatios(c.id, bare, route))} | ${fmtRatio(rpsRatios(b, bare, route))} | ${fmtRatio(rpsRatios(c.id, b, route))} | ${median(cpuRatios(c.id, b, route)).toFixed(2)}× |`,
        );
    }
    lines.push('');
  }
  const block = lines.join('\n');
  console.log(`\n${block}`);
  if (o.out) replaceBlock(o.out, 'throughput', block);
  return { met, total: trows.length };
}
