/** Process figures read from /proc: CPU time (user + system, all threads) and resident memory. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU time the process has used so far, in microseconds (resolution 1/CLK_TCK s). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name (which may contain spaces), 1-based: utime is 14, stime 15
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1e6) / TICKS;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

export function cpuModel(): string {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  return /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? 'unknown CPU';
}

export const median = (xs: number[]) => quantile(xs, 0.5);

export function quantile(xs: number[], q: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** The share of wall time a CPU-bound process pinned to `cpu` gets over `ms` (1.0: the whole core). */
export function cpuShare(cpu: number, ms: number): number {
  const probe = `const t=Date.now(),c=process.cpuUsage();while(Date.now()-t<${ms});const u=process.cpuUsage(c);console.log((u.user+u.system)/1000/(Date.now()-t))`;
  const r = spawnSync('taskset', ['-c', String(cpu), process.execPath, '-e', probe], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}
