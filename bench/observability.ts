/**
 * What observing sessions costs, and what the metrics look like (docs/observability.md):
 *
 * 1. Cost: node:http + sessionkit on MemoryStore and SqliteStore, each as it ships (no `onEvent`,
 *    no OpenTelemetry provider), with an `onEvent` handler, and with the OpenTelemetry SDK
 *    registered (batch span processor, metric reader); with BENCH_BEFORE=<another dist>, that
 *    build too (the "without either" of today's). Servers pinned to core 0, wrk to core 1,
 *    interleaved rounds, ratios as medians of per-round ratios, as the throughput part does.
 * 2. A dashboard: one server on RedisStore with the SDK registered, driven through three phases
 *    (new visitors, returning visitors, parallel writes on a few sessions); the metrics are read
 *    every second and drawn as a dashboard would (docs/bench/observability-metrics.svg).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuMicros, median, quantile } from './lib/proc.js';
import { type Server, startServer, visitorCookies } from './lib/server.js';
import { linePlot, type Series } from './lib/svg.js';
import { cookieFile, ensureWrk, wrk } from './lib/wrk.js';
import { startRedis, stopAll } from '../test/support/redis.js';

export interface ObservabilityOptions {
  quick: boolean;
  rounds: number;
  seconds: number;
  connections: number;
  outDir: string;
  command: string;
  /** `cost` or `dashboard`: only that half */
  only: string | null;
}

type Route = 'read-new' | 'read' | 'count';
const ROUTES: Record<Route, { path: string; cookie: boolean; label: string }> = {
  'read-new': { path: '/read', cookie: false, label: '/read, no cookie' },
  read: { path: '/read', cookie: true, label: '/read' },
  count: { path: '/count', cookie: true, label: '/count' },
};

interface Cell {
  id: string;
  label: string;
  env: Record<string, string>;
}

function cells(): Cell[] {
  const out: Cell[] = [{ id: 'bare', label: 'bare node:http', env: { BENCH_IMPL: 'bare', BENCH_STORE: 'none' } }];
  for (const [store, name] of [
    ['memory', 'MemoryStore'],
    ['sqlite', 'SqliteStore'],
  ] as const) {
    const sk = { BENCH_IMPL: 'sessionkit', BENCH_STORE: store };
    if (process.env.BENCH_BEFORE)
      out.push({ id: `${store}/before`, label: `${name}, before (other build)`, env: { ...sk, BENCH_DIST: process.env.BENCH_BEFORE } });
    out.push(
      { id: `${store}/none`, label: `${name}, neither`, env: sk },
      { id: `${store}/events`, label: `${name}, onEvent`, env: { ...sk, BENCH_OBSERVE: 'events' } },
      { id: `${store}/otel`, label: `${name}, OpenTelemetry SDK`, env: { ...sk, BENCH_OBSERVE: 'otel' } },
    );
  }
  return out;
}

interface Round {
  rps: number;
  cpu: number;
  p99: number;
  /** wrk's socket errors and timeouts, and non-2xx answers */
  errors: number;
}

const fmtRatio = (xs: number[]) =>
  xs.length
    ? `${median(xs).toFixed(3)}× (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}, IQR ${quantile(xs, 0.25).toFixed(2)}–${quantile(xs, 0.75).toFixed(2)})`
    : '';

async function cost(o: ObservabilityOptions): Promise<string> {
  const all = cells();
  const servers: { cell: Cell; server: Server; cookies: string }[] = [];
  const results = new Map<string, Map<Route, Round[]>>();
  try {
    for (const cell of all) {
      const server = await startServer({ framework: 'node', env: cell.env });
      servers.push({ cell, server, cookies: cookieFile(await visitorCookies(server.base, 256)) });
      results.set(cell.id, new Map((Object.keys(ROUTES) as Route[]).map((r) => [r, []])));
    }
    const measure = async (s: (typeof servers)[number], route: Route) => {
      const c0 = cpuMicros(s.server.pid);
      const r = await wrk({
        url: s.server.base,
        path: ROUTES[route].path,
        cookies: ROUTES[route].cookie ? s.cookies : '',
        seconds: o.seconds,
        connections: o.connections,
      });
      if (r.errors || r.non2xx) console.log(`bench: ${s.cell.id} ${route}: ${r.errors} socket errors or timeouts, ${r.non2xx} non-2xx`);
      return { rps: r.rps, cpu: (cpuMicros(s.server.pid) - c0) / Math.max(1, r.requests), p99: r.p99, errors: r.errors + r.non2xx };
    };
    for (const s of servers) for (const r of Object.keys(ROUTES) as Route[]) await measure(s, r); // JIT warm-up
    for (let round = 1; round <= o.rounds; round++) {
      for (const route of Object.keys(ROUTES) as Route[]) {
        const line: string[] = [];
        for (const s of servers) {
          const m = await measure(s, route);
          results.get(s.cell.id)!.get(route)!.push(m);
          line.push(`${s.cell.id} ${(m.rps / 1000).toFixed(1)}k ${m.cpu.toFixed(1)}µs`);
        }
        console.log(`observability round ${round} ${route}: ${line.join(' | ')}`);
      }
    }
    const events = await Promise.all(
      servers.filter((s) => s.cell.env.BENCH_OBSERVE === 'events').map((s) => s.server.send({ type: 'events' })),
    );
    console.log('events seen by the onEvent servers:', JSON.stringify(events.map(({ id, type, ...counts }) => counts)));
  } finally {
    await Promise.all(servers.map((s) => s.server.stop()));
  }
  const rounds = (id: string, r: Route) => results.get(id)?.get(r) ?? [];
  const ratios = (a: string, b: string, r: Route) => rounds(a, r).map((x, i) => x.rps / rounds(b, r)[i]!.rps);
  const byCpu = (a: string, b: string, r: Route) => rounds(a, r).map((x, i) => rounds(b, r)[i]!.cpu / x.cpu);
  const lines = [
    `Command: \`${o.command}\`, run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, node ${process.version}; ` +
      `each server pinned to core 0, wrk (${o.connections} connections) to core 1, ${o.rounds} interleaved rounds of ${o.seconds} s after a warm-up; ` +
      "256 visitors' sessions per server. Ratio of req/s against the same store with neither, the median of the per-round ratios (min–max, IQR); by CPU: the same from server CPU time per request (inverted: below 1 costs more).",
    '',
    '| route | server | req/s | CPU µs/req | p99 ms | × neither (spread) | × neither by CPU | × bare |',
    '|---|---|---:|---:|---:|---|---:|---:|',
  ];
  for (const route of Object.keys(ROUTES) as Route[]) {
    for (const { cell } of servers) {
      const rs = rounds(cell.id, route);
      const base = cell.id === 'bare' ? null : `${cell.id.split('/')[0]}/none`;
      lines.push(
        `| ${ROUTES[route].label} | ${cell.label} | ${median(rs.map((x) => x.rps)).toFixed(0)}${rs.some((x) => x.errors) ? ` (${rs.reduce((n, x) => n + x.errors, 0)} errors)` : ''} | ${median(rs.map((x) => x.cpu)).toFixed(1)} | ` +
          `${median(rs.map((x) => x.p99)).toFixed(2)} | ${base === null || base === cell.id ? '' : fmtRatio(ratios(cell.id, base, route))} | ` +
          `${base === null || base === cell.id ? '' : `${median(byCpu(cell.id, base, route)).toFixed(3)}×`} | ` +
          `${cell.id === 'bare' ? '' : median(ratios(cell.id, 'bare', route)).toFixed(2)} |`,
      );
    }
  }
  return lines.join('\n');
}

interface Sample {
  at: number;
  spans: number;
  metrics: Record<string, { attributes: Record<string, string>; value: any }[]>;
}

/** The q-quantile of a histogram's bucket counts (linear within the bucket), in the histogram's unit. */
function bucketQuantile(boundaries: number[], counts: number[], q: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= q * total && c > 0) {
      const lo = i === 0 ? 0 : boundaries[i - 1]!;
      const hi = boundaries[i] ?? lo * 2;
      return lo + ((q * total - seen) / c) * (hi - lo);
    }
    seen += c;
  }
  return boundaries.at(-1)!;
}

async function dashboard(o: ObservabilityOptions): Promise<{ file: string; summary: string }> {
  const redis = await startRedis();
  // two processes on one Redis, as two instances behind a load balancer: parallel writes on one
  // session from two processes are what conflicts (one process queues its own commits of a key)
  const env = { BENCH_IMPL: 'sessionkit', BENCH_STORE: 'redis', BENCH_REDIS_URL: redis.url, BENCH_OBSERVE: 'otel' };
  const servers = [await startServer({ framework: 'node', env }), await startServer({ framework: 'node', env })];
  const server = servers[0]!;
  /** Both instances' metrics, summed per metric and attribute set, as a dashboard sums a fleet. */
  const sample = async (): Promise<Sample> => {
    const [a, b] = (await Promise.all(servers.map((s) => s.send({ type: 'metrics' })))) as Sample[];
    const merged: Sample = { at: a!.at, spans: a!.spans + b!.spans, metrics: structuredClone(a!.metrics) };
    for (const [name, points] of Object.entries(b!.metrics)) {
      const into = (merged.metrics[name] ??= []);
      for (const p of points) {
        const same = into.find((q) => JSON.stringify(q.attributes) === JSON.stringify(p.attributes));
        if (!same) into.push(structuredClone(p));
        else if (typeof p.value === 'number') same.value += p.value;
        else {
          same.value.count += p.value.count;
          same.value.buckets.counts = same.value.buckets.counts.map((c: number, i: number) => c + p.value.buckets.counts[i]);
        }
      }
    }
    return merged;
  };
  const samples: Sample[] = [];
  const phase = o.quick ? 3 : 10;
  const t0 = Date.now();
  try {
    const visitors = cookieFile(await visitorCookies(server.base, 256));
    const few = cookieFile((await visitorCookies(server.base, 4)).slice(0, 4));
    samples.push(await sample());
    const poll = setInterval(async () => samples.push(await sample()), 1000);
    const run = async (path: string, cookies: string, connections: number) => {
      const rs = await Promise.all(servers.map((s) => wrk({ url: s.base, path, cookies, seconds: phase, connections: connections / 2 })));
      return {
        rps: rs.reduce((n, r) => n + r.rps, 0),
        p99: Math.max(...rs.map((r) => r.p99)),
        non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
        errors: rs.reduce((n, r) => n + r.errors, 0),
      };
    };
    const phases = [
      ['new visitors (/count, no cookie, 8 connections)', await run('/count', '', 8)],
      ['returning visitors (/read, 32 connections)', await run('/read', visitors, 32)],
      ['parallel writes on 4 sessions (/incr, 32 connections)', await run('/incr', few, 32)],
    ] as const;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    clearInterval(poll);
    samples.push(await sample());
    const started = samples[0]!.at;
    const x = (s: Sample) => (s.at - started) / 1000;
    const sum = (s: Sample, name: string, op?: string) =>
      (s.metrics[name] ?? [])
        .filter((p) => op === undefined || p.attributes['sessionkit.operation'] === op)
        .reduce((n, p) => n + (typeof p.value === 'number' ? p.value : p.value.count), 0);
    const rate = (name: string, op?: string): [number, number][] =>
      samples.slice(1).map((s, i) => {
        const prev = samples[i]!;
        return [x(s), (sum(s, name, op) - sum(prev, name, op)) / ((s.at - prev.at) / 1000)];
      });
    const ops = [
      ...new Set(samples.flatMap((s) => (s.metrics['sessionkit.store.duration'] ?? []).map((p) => p.attributes['sessionkit.operation']!))),
    ].sort();
    const latency = (op: string, q: number): [number, number][] =>
      samples.slice(1).map((s, i) => {
        const point = (at: Sample) =>
          (at.metrics['sessionkit.store.duration'] ?? []).find((p) => p.attributes['sessionkit.operation'] === op)?.value;
        const now = point(s);
        const before = point(samples[i]!);
        if (!now) return [x(s), Number.NaN];
        const counts = now.buckets.counts.map((c: number, j: number) => c - (before?.buckets.counts[j] ?? 0));
        return [x(s), 1000 * bucketQuantile(now.buckets.boundaries, counts, q)];
      });
    const panels = [
      linePlot({
        title: 'Sessions created and commit conflicts, per second',
        xLabel: 'seconds',
        yLabel: 'per second',
        series: [
          { name: 'sessions.created', points: rate('sessionkit.sessions.created') },
          { name: 'commit.conflicts', points: rate('sessionkit.commit.conflicts') },
        ],
      }),
      linePlot({
        title: 'Store operations per second (store.duration count)',
        xLabel: 'seconds',
        yLabel: 'operations per second',
        series: ops.map((op) => ({ name: op, points: rate('sessionkit.store.duration', op) })),
      }),
      linePlot({
        title: 'Store operation duration, p50 and p99 (store.duration)',
        xLabel: 'seconds',
        yLabel: 'milliseconds',
        series: ops.flatMap((op): Series[] => [
          { name: `${op} p50`, points: latency(op, 0.5) },
          { name: `${op} p99`, points: latency(op, 0.99) },
        ]),
      }),
    ];
    const file = 'observability-metrics.svg';
    const caption = [
      'Two node:http instances on one RedisStore, each with the OpenTelemetry SDK',
      `${phase} s each: new visitors · returning visitors · parallel writes on 4 sessions`,
    ];
    writeFileSync(join(o.outDir, file), stack(panels, caption));
    const summary = [
      `Dashboard run: two node:http instances on one RedisStore, the OpenTelemetry SDK registered in each, their metrics read every second and summed; ${phase} s per phase, ${((Date.now() - t0) / 1000).toFixed(0)} s in all; ${samples.at(-1)!.spans} spans exported.`,
      '',
      ...phases.map(
        ([p, r]) =>
          `- ${p}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(2)} ms${r.non2xx || r.errors ? `, ${r.non2xx} non-2xx (${r.errors} errors)` : ''}`,
      ),
      `- totals: ${sum(samples.at(-1)!, 'sessionkit.sessions.created')} sessions created, ${sum(samples.at(-1)!, 'sessionkit.commit.conflicts')} conflicts`,
    ].join('\n');
    return { file, summary };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await stopAll();
  }
}

/** Panels (each a linePlot SVG) one under the other in one SVG, under a caption. */
function stack(panels: string[], caption: string[]): string {
  const W = 640;
  const H = 400;
  const top = 16 + 16 * caption.length;
  const body = panels.map((svg, i) => svg.replace('<svg xmlns="http://www.w3.org/2000/svg"', `<svg y="${top + i * H}"`)).join('');
  const lines = caption.map(
    (line, i) =>
      `<text x="${W / 2}" y="${18 + 16 * i}" text-anchor="middle" font-size="12">${line.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`,
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${top + panels.length * H}" width="${W}" height="${top + panels.length * H}" font-family="sans-serif">\n` +
    `<rect width="${W}" height="${top + panels.length * H}" fill="white"/>\n` +
    `${lines.join('\n')}\n${body}</svg>\n`
  );
}

export async function observability(o: ObservabilityOptions): Promise<string> {
  ensureWrk();
  const table = o.only === 'dashboard' ? '' : await cost(o);
  console.log(`\n${table}`);
  const { file, summary } = o.only === 'cost' ? { file: 'observability-metrics.svg', summary: '' } : await dashboard(o);
  console.log(`\n${summary}`);
  return `${table}\n\n${summary}\n\n![sessionkit's metrics during the dashboard run](bench/${file})`;
}
