/**
 * Where the machine's CPU went during a measured run, read from /proc (Linux): how much of the machine sat
 * idle, and how much CPU the load generator itself burned. Both say whether a figure is bound by the
 * machine or by the server, which matters on 2 shared cores. Owns the /proc parsing; must not start or
 * stop processes.
 */

/** Clock ticks per second in /proc (USER_HZ, fixed at 100 on Linux whatever the kernel's own rate). */
const TICKS_PER_SECOND = 100;

/** The machine-wide counters of /proc/stat's first line, in ticks. */
export interface MachineTicks {
  readonly idle: number;
  readonly total: number;
}

/** Reads the `cpu` line of /proc/stat: idle counts idle and iowait; total counts every state but guests
 * (already inside user and nice). */
export function parseMachineTicks(procStat: string): MachineTicks {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  const fields = line?.trim().split(/\s+/).slice(1, 9).map(Number);
  if (!fields || fields.length < 8 || fields.some((n) => !Number.isFinite(n))) {
    throw new Error(`Not a /proc/stat text: "${procStat.slice(0, 80)}"`);
  }
  // user, nice, system, idle, iowait, irq, softirq, steal
  return { idle: fields[3]! + fields[4]!, total: fields.reduce((sum, n) => sum + n, 0) };
}

/** CPU seconds of a process's children that have finished and been waited for (`cutime` + `cstime` of
 * /proc/PID/stat, the 16th and 17th fields; the command name before them may hold spaces). */
export function parseChildrenSeconds(procPidStat: string): number {
  const fields = procPidStat.slice(procPidStat.lastIndexOf(")") + 2).trim().split(/\s+/);
  // Fields from the state (3rd) on; cutime is the 16th.
  const [cutime, cstime] = [Number(fields[13]), Number(fields[14])];
  if (!Number.isFinite(cutime) || !Number.isFinite(cstime)) {
    throw new Error(`Not a /proc/PID/stat text: "${procPidStat.slice(0, 80)}"`);
  }
  return (cutime + cstime) / TICKS_PER_SECOND;
}

/** Idle cores between two readings: 1.5 means one and a half of the machine's cores did nothing. */
export function idleCores(before: MachineTicks, after: MachineTicks, cores: number): number {
  const total = after.total - before.total;
  return total > 0 ? ((after.idle - before.idle) / total) * cores : 0;
}

export async function machineTicks(): Promise<MachineTicks> {
  return parseMachineTicks(await Deno.readTextFile("/proc/stat"));
}

/** CPU seconds of this process's finished children so far: read around a child's run, the difference
 * is what that child used. */
export async function childrenSeconds(): Promise<number> {
  return parseChildrenSeconds(await Deno.readTextFile("/proc/self/stat"));
}

/** Runs `load` (which starts and waits for one child, the load generator) and reports, next to its
 * result, the generator's CPU in cores and the machine's idle cores over the same time. */
export async function accounted<T>(
  load: () => Promise<T>,
): Promise<{ result: T; generator_cores: number; idle_cores: number }> {
  const [ticks, children, started] = [await machineTicks(), await childrenSeconds(), performance.now()];
  const result = await load();
  const seconds = (performance.now() - started) / 1000;
  const [ticksAfter, childrenAfter] = [await machineTicks(), await childrenSeconds()];
  return {
    result,
    generator_cores: seconds > 0 ? (childrenAfter - children) / seconds : 0,
    idle_cores: idleCores(ticks, ticksAfter, navigator.hardwareConcurrency),
  };
}
