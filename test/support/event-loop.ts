import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Nanoseconds the main thread has run on a CPU and waited for one (Linux schedstat); the process's CPU time and 0 elsewhere. */
function schedstat(): [number, number] {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return [Number(run), Number(wait)];
  } catch {
    const { user, system } = process.cpuUsage();
    return [(user + system) * 1000, 0];
  }
}

export interface EventLoopWatch {
  /**
   * `heldMs`: the longest time the event loop was kept from running a 1 ms timer, less the time
   * the main thread spent waiting for a CPU meanwhile (a machine busy with other work is not this
   * process's doing); what is left is this process's own work or a wait inside it, such as a lock
   * wait. `cpuMs`: the most CPU time the main thread used between two runs of the timer, which
   * counts only its own work (not a sleep). `delayMs`: perf_hooks.monitorEventLoopDelay's max,
   * which counts everything.
   */
  stop(): { heldMs: number; cpuMs: number; delayMs: number };
}

export function watchEventLoop(): EventLoopWatch {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  let lastAt = performance.now();
  let [lastRun, lastWait] = schedstat();
  let held = 0;
  let cpu = 0;
  const tick = () => {
    const at = performance.now();
    const [run, wait] = schedstat();
    held = Math.max(held, at - lastAt - (wait - lastWait) / 1e6);
    cpu = Math.max(cpu, (run - lastRun) / 1e6);
    lastAt = at;
    lastRun = run;
    lastWait = wait;
  };
  const timer = setInterval(tick, 1);
  return {
    stop() {
      tick();
      clearInterval(timer);
      histogram.disable();
      return { heldMs: held, cpuMs: cpu, delayMs: histogram.max / 1e6 };
    },
  };
}
