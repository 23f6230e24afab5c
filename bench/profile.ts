/**
 * `npm run bench -- profile [--filter SERVER] [--route /read]`: one server under wrk with
 * `node --cpu-prof`, and the functions with the most self time (where a miss's time goes).
 * SERVER is group/impl[/store] as in the throughput tables, e.g. node/sessionkit/memory.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startServer, visitorCookies } from './lib/server.js';
import { cookieFile, ensureWrk, wrk } from './lib/wrk.js';
import { startRedis, stopAll } from '../test/support/redis.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export async function profile(o: { server: string; route: string; seconds: number; top: number; cookie: boolean }): Promise<string> {
  ensureWrk();
  const [group, impl, store = 'none'] = o.server.split('/');
  const framework = group === 'express4' ? 'express' : group!;
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-prof-'));
  let redisUrl = '';
  if (store === 'redis') redisUrl = (await startRedis()).url;
  try {
    const server = await startServer({
      framework,
      env: {
        BENCH_IMPL: impl!,
        BENCH_STORE: store,
        BENCH_REDIS_URL: redisUrl,
        ...(group === 'express4' ? { BENCH_EXPRESS: 'express4' } : {}),
      },
      nodeFlags: ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${dir}`],
    });
    const cookies = cookieFile(await visitorCookies(server.base, 256));
    await wrk({ url: server.base, path: o.route, cookies: o.cookie ? cookies : '', seconds: 1, connections: 32 });
    const from = (await server.send({ type: 'hrtime' })).us as number;
    const r = await wrk({ url: server.base, path: o.route, cookies: o.cookie ? cookies : '', seconds: o.seconds, connections: 32 });
    const to = (await server.send({ type: 'hrtime' })).us as number;
    await server.stop();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('bench profile: no .cpuprofile written');
    const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      nodes: ProfileNode[];
      startTime: number;
      samples: number[];
      timeDeltas: number[];
    };
    const nameOf = new Map<number, string>();
    for (const node of prof.nodes) {
      const f = node.callFrame;
      const snapshot = process.env.BENCH_DIST ?? '';
      const path = f.url.replace('file://', '');
      const shown = snapshot && path.startsWith(snapshot) ? `dist${path.slice(snapshot.length)}` : relative(process.cwd(), path);
      const where = f.url ? `${shown}:${f.lineNumber + 1}` : '';
      nameOf.set(node.id, `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`);
    }
    // only the samples taken while wrk ran: not the start-up, module loading or warm-up
    const self = new Map<string, number>();
    let t = prof.startTime;
    let total = 0;
    prof.samples.forEach((id, i) => {
      t += prof.timeDeltas[i]!;
      if (t < from || t > to) return;
      total++;
      const name = nameOf.get(id)!;
      self.set(name, (self.get(name) ?? 0) + 1);
    });
    if (total === 0) throw new Error(`bench profile: no samples between ${from} and ${to} (profile from ${prof.startTime} to ${t})`);
    const idle = self.get('(idle)') ?? 0;
    const busy = total - idle;
    const rows = [...self.entries()].filter(([name]) => name !== '(idle)').sort((a, b) => b[1] - a[1]);
    const lines = [
      `Profile of ${o.server} on ${o.route}${o.cookie ? '' : ' (no cookie)'}: ${r.requests} requests in ${o.seconds} s under wrk; ${busy} busy samples. Top ${o.top} functions by self time (share of busy samples):`,
      '',
      '| self | function |',
      '|---:|---|',
      ...rows.slice(0, o.top).map(([name, hits]) => `| ${((100 * hits) / busy).toFixed(1)}% | \`${name.replace(/\|/g, '\\|')}\` |`),
    ];
    const sessionkitShare = rows.filter(([name]) => name.includes(' dist/')).reduce((n, [, h]) => n + h, 0);
    lines.push('', `All of sessionkit's own functions (dist/): ${((100 * sessionkitShare) / busy).toFixed(1)}% of busy samples.`);
    const text = lines.join('\n');
    console.log(text);
    return text;
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
