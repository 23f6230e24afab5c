/**
 * `npm run bench -- device-bound`: the server's cost of Device Bound Session Credentials, in µs of
 * CPU (user + system, every thread of the process: Web Crypto verifies on libuv's pool) per
 * registration, per refresh (the 403 challenge and the signed retry) and per ordinary request of a
 * bound session (the bound-cookie check), on MemoryStore and SqliteStore, ES256 and RS256. The
 * client's work (making keys, signing proofs) happens outside the measured spans; every
 * registration is of a new key. Median of RUNS (3) runs of N (200) each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeKey, proof, type Alg, type KeyPair } from '../test/support/dbsc-client.js';
import { median } from './lib/proc.js';
import { distModule } from './lib/server.js';

/** µs of process CPU per call of `fn` over `count` calls. */
async function cpuPer(count: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) await fn(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

const param = (header: string, name: string) => new RegExp(`${name}="([^"]+)"`).exec(header)![1]!;

export async function deviceBoundBench(options: { runs?: number; n?: number } = {}): Promise<string> {
  const N = options.n ?? 200;
  const RUNS = options.runs ?? 3;
  const sk: Record<string, any> = await import(distModule('index.js'));
  const { deviceBoundRequest } = await import(distModule('core/device-bound-endpoint.js'));
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-dbsc-bench-'));
  const base = 'https://app.example';
  const lines = [
    `Device-bound sessions: µs of server CPU per operation (median of ${RUNS} runs of ${N}; node ${process.version}, ${process.platform}/${process.arch})`,
    '',
    '| store | alg | registration | refresh: 403 challenge | refresh: signed | refresh total | request with bound cookie | request, unbound session |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  try {
    for (const storeName of ['MemoryStore', 'SqliteStore'] as const) {
      for (const alg of ['ES256', 'RS256'] as Alg[]) {
        const results: number[][] = [];
        for (let run = 0; run < RUNS; run++) {
          const store =
            storeName === 'MemoryStore' ? new sk.MemoryStore() : new sk.SqliteStore({ path: join(dir, `${alg}-${run}.sqlite3`) });
          const sessions = sk.createSessions({ store, deviceBound: {}, logger: { warn() {}, error() {} } });
          // Setup (not measured): N signed-in sessions with their registration challenge, N keys, N signed registrations.
          const clients: { cookie: string; key: KeyPair; challenge: string; jwt?: string; id?: string; bound?: string }[] = [];
          const keys = await Promise.all(Array.from({ length: N }, () => makeKey(alg)));
          for (let i = 0; i < N; i++) {
            const s = await sessions.load();
            await s.login(`user-${i}`);
            const r = await sessions.commitResponse(s);
            const header = r.headers!.find(([n]: [string]) => n === 'Secure-Session-Registration')![1];
            clients.push({ cookie: r.setCookie!.split(';')[0]!, key: keys[i]!, challenge: param(header, 'challenge') });
          }
          for (const c of clients) c.jwt = await proof(c.key, c.challenge, { withJwk: true });
          const post = (path: string, headers: Record<string, string>) =>
            new Request(`${base}/.sessionkit/dbsc/${path}`, { method: 'POST', headers });
          const registerReqs = clients.map((c) => post('register', { cookie: c.cookie, 'Secure-Session-Response': c.jwt! }));
          const registration = await cpuPer(N, async (i) => {
            const a = await deviceBoundRequest(sessions, registerReqs[i]);
            if (a.status !== 200) throw new Error(`registration answered ${a.status}`);
            const c = clients[i]!;
            c.id = JSON.parse(a.body).session_identifier;
            c.bound = a.headers.find(([n, v]: [string, string]) => n === 'Set-Cookie' && v.startsWith('sessionid_bound='))[1].split(';')[0];
          });
          const challengeReqs = clients.map((c) => post('refresh', { cookie: c.cookie, 'Sec-Secure-Session-Id': c.id! }));
          const challenges: string[] = [];
          const challenge = await cpuPer(N, async (i) => {
            const a = await deviceBoundRequest(sessions, challengeReqs[i]);
            if (a.status !== 403) throw new Error(`refresh without a proof answered ${a.status}`);
            challenges[i] = /^"([^"]+)"/.exec(a.headers.find(([n]: [string]) => n === 'Secure-Session-Challenge')[1])![1]!;
          });
          const signedJwts = await Promise.all(clients.map((c, i) => proof(c.key, challenges[i]!, { withJwk: false })));
          const signedReqs = clients.map((c, i) =>
            post('refresh', { cookie: c.cookie, 'Sec-Secure-Session-Id': c.id!, 'Secure-Session-Response': signedJwts[i]! }),
          );
          const signed = await cpuPer(N, async (i) => {
            const a = await deviceBoundRequest(sessions, signedReqs[i]);
            if (a.status !== 200) throw new Error(`signed refresh answered ${a.status}`);
          });
          // An ordinary request's load of a bound session (with its bound cookie) against an unbound one.
          const boundReqs = clients.map((c) => ({ headers: { cookie: `${c.cookie}; ${c.bound}` } }));
          const reads = N * 20;
          const plain = sk.createSessions({ store, logger: { warn() {}, error() {} } });
          const load = (s: any) => async (i: number) => {
            const session = await s.load(boundReqs[i % N]);
            if (session.userId === null) throw new Error('a bound session with its cookie loaded empty');
          };
          await cpuPer(reads, load(plain)); // warm-up of both paths
          await cpuPer(reads, load(sessions));
          const plainLoad = await cpuPer(reads, load(plain));
          const boundLoad = await cpuPer(reads, load(sessions));
          results.push([registration, challenge, signed, challenge + signed, boundLoad, plainLoad]);
          await store.close();
        }
        const m = results[0]!.map((_, col) => median(results.map((r) => r[col]!)));
        lines.push(`| ${storeName} | ${alg} | ${m.map((v) => v.toFixed(1)).join(' | ')} |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const text = lines.join('\n');
  console.log(text);
  return text;
}

if (import.meta.url === `file://${process.argv[1]}`)
  await deviceBoundBench({ runs: Number(process.env.RUNS ?? 3), n: Number(process.env.N ?? 200) });
