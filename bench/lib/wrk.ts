/**
 * wrk (Debian's `wrk`) as the load generator: one thread pinned to core 1 with `taskset`, a Lua
 * script that rotates over the visitors' cookies (requests formatted once, in `init`), and a
 * `done` hook that prints the figures as one JSON line.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkResult {
  requests: number;
  /** seconds */
  duration: number;
  rps: number;
  /** latency percentiles, milliseconds */
  p50: number;
  p99: number;
  /** connect/read/write errors and timeouts */
  errors: number;
  /** responses that were not 2xx or 3xx */
  non2xx: number;
}

const LUA = `
local reqs = {}
local n = 0
local i = 0
function init(args)
  local path = args[1]
  if args[2] and args[2] ~= "" then
    for line in io.lines(args[2]) do
      n = n + 1
      reqs[n] = wrk.format("GET", path, { ["Cookie"] = line })
    end
  end
  if n == 0 then
    n = 1
    reqs[1] = wrk.format("GET", path)
  end
  i = math.random(n) - 1
end
function request()
  i = i % n + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nWRKJSON {"requests":%d,"duration":%d,"p50":%d,"p99":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;

let dir: string | null = null;
function scratch(): string {
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'sessionkit-wrk-'));
    writeFileSync(join(dir, 'rotate.lua'), LUA);
    process.on('exit', () => dir && rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

/** Installs wrk from Debian when it is missing (the bench needs it; CI does not). */
export function ensureWrk(): void {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  console.log('bench: wrk not found, installing it with apt-get');
  execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'inherit' });
}

let cookieFiles = 0;
/** Writes the cookies (one `Cookie` header value per line) where the Lua script reads them. */
export function cookieFile(cookies: string[]): string {
  const path = join(scratch(), `cookies-${cookieFiles++}.txt`);
  writeFileSync(path, `${cookies.join('\n')}\n`);
  return path;
}

export interface WrkOptions {
  url: string;
  path: string;
  /** from cookieFile(), or '' for none */
  cookies: string;
  seconds: number;
  connections: number;
  /** core wrk is pinned to (default 1) */
  cpu?: number;
  /** scheduling priority for wrk (`nice -n`), default 0 */
  nice?: number;
}

export function wrk(o: WrkOptions): Promise<WrkResult> {
  const args = [
    ...(o.nice ? ['-n', String(o.nice), 'taskset'] : []),
    '-c',
    String(o.cpu ?? 1),
    'wrk',
    '-t1',
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    '--timeout',
    '5s',
    '-s',
    join(scratch(), 'rotate.lua'),
    o.url,
    '--',
    o.path,
    o.cookies,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(o.nice ? 'nice' : 'taskset', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (exit ${code}): ${err || out}`));
      const j = JSON.parse(line.slice(8));
      const duration = j.duration / 1e6;
      resolve({
        requests: j.requests,
        duration,
        rps: j.requests / duration,
        p50: j.p50 / 1000,
        p99: j.p99 / 1000,
        errors: j.errors,
        non2xx: j.non2xx,
      });
    });
  });
}
