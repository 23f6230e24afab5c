/**
 * `npm run bench -- micro`: the session work of one request without HTTP (load, read or write,
 * commit) in µs of CPU per request, on MemoryStore and SqliteStore. For before/after figures of a
 * hot-path change: steadier than req/s on a shared machine. Median of 7 runs of 100k requests.
 * BENCH_OBSERVE=events or otel: the same with an `onEvent` handler, or the OpenTelemetry SDK registered.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib/proc.js';
import { distModule } from './lib/server.js';

export async function micro(): Promise<string> {
  const sk: Record<string, any> = await import(distModule('index.js'));
  const { loadForRequest } = await import(distModule('core/sessions.js'));
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-micro-'));
  const lines: string[] = [];
  try {
    for (const [name, store] of [
      ['MemoryStore', new sk.MemoryStore()],
      ['SqliteStore', new sk.SqliteStore({ path: join(dir, 'm.sqlite3') })],
    ] as const) {
      // BENCH_OBSERVE=events|otel: with an onEvent handler, or with the OpenTelemetry SDK registered (bench/servers/observe.ts)
      const observe = process.env.BENCH_OBSERVE ? (await import('./servers/observe.js')).observeOptions() : {};
      const sessions = sk.createSessions({ store, ...observe });
      const cookies: string[] = [];
      for (let i = 0; i < 256; i++) {
        const s = await sessions.load({ headers: {} });
        s.set('count', 1);
        s.set('user', { id: i, name: `user-${i}` });
        cookies.push(((await sessions.commit(s)) as string).split(';')[0]!);
      }
      const reqs = cookies.map((c) => ({ headers: { cookie: `csrftoken=abc; ${c}` } }));
      const routes: Record<string, (s: any) => void> = {
        none: () => {},
        read: (s) => s.get('count', 0),
        readObject: (s) => s.get('user'),
        count: (s) => s.set('count', s.get('count', 0) + 1),
      };
      for (const [route, fn] of Object.entries(routes)) {
        const runs: number[] = [];
        for (let run = 0; run < 7; run++) {
          const n = 100_000;
          const c0 = process.cpuUsage();
          for (let i = 0; i < n; i++) {
            let s = loadForRequest(sessions, reqs[i & 255]!);
            if (s instanceof Promise) s = await s;
            fn(s);
            const r = sessions.commitResponse(s, { status: 200 });
            if (r instanceof Promise) await r;
          }
          const c = process.cpuUsage(c0);
          runs.push((c.user + c.system) / n);
        }
        const line = `${name} ${route}: ${median(runs).toFixed(2)} µs/request (runs ${Math.min(...runs).toFixed(2)}–${Math.max(...runs).toFixed(2)})`;
        console.log(line);
        lines.push(line);
      }
      await sessions.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines.join('\n');
}
