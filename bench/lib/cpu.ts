/**
 * Where the machine's CPU went during a measured run, read from /proc (Linux): how much of the machine sat
 * idle, and how much CPU the load generator itself burned. Both say whether a figure is bound by the
 * machine or by the server, which matters on 2 shared cores. The probes (bench/probes) also read each
 * thread's CPU and scheduler waits here. Owns the /proc parsing; must not start or stop processes.
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

/** Two tick counters of a /proc/PID/stat (or /proc/PID/task/TID/stat) text, summed, in seconds: `at` is
 * the 1-based field number of the first. The command name before them may hold spaces and parentheses. */
function statSeconds(procPidStat: string, at: number): number {
  // Fields from the state (3rd) on.
  const fields = procPidStat.slice(procPidStat.lastIndexOf(")") + 2).trim().split(/\s+/);
  const [a, b] = [Number(fields[at - 3]), Number(fields[at - 2])];
  if (!Number.isFinite(a) || !Number.isFinite(b)) {
    throw new Error(`Not a /proc/PID/stat text: "${procPidStat.slice(0, 80)}"`);
  }
  return (a + b) / TICKS_PER_SECOND;
}

/** CPU seconds of a process's children that have finished and been waited for (`cutime` + `cstime` of
 * /proc/PID/stat, the 16th and 17th fields). */
export function parseChildrenSeconds(procPidStat: string): number {
  return statSeconds(procPidStat, 16);
}

/** CPU seconds a process or one of its threads has used itself (`utime` + `stime`, the 14th and 15th
 * fields of /proc/PID/stat or /proc/PID/task/TID/stat). */
export function parseOwnSeconds(procPidStat: string): number {
  return statSeconds(procPidStat, 14);
}

/** The command name of a /proc/PID/stat text: for a thread, its name (`clipper-core`, `tokio-runtime-w`). */
export function parseCommand(procPidStat: string): string {
  const [open, close] = [procPidStat.indexOf("("), procPidStat.lastIndexOf(")")];
  if (open < 0 || close < open) throw new Error(`Not a /proc/PID/stat text: "${procPidStat.slice(0, 80)}"`);
  return procPidStat.slice(open + 1, close);
}

/** A thread's scheduler figures from /proc/PID/task/TID/schedstat: seconds on a CPU, seconds runnable but
 * waiting for one, and how many times it was put on a CPU (a wake-up or a preemption each). */
export interface Schedstat {
  readonly run_s: number;
  readonly wait_s: number;
  readonly timeslices: number;
}

export function parseSchedstat(text: string): Schedstat {
  const fields = text.trim().split(/\s+/).map(Number);
  if (fields.length !== 3 || fields.some((n) => !Number.isFinite(n))) {
    throw new Error(`Not a schedstat text: "${text.slice(0, 80)}"`);
  }
  return { run_s: fields[0]! / 1e9, wait_s: fields[1]! / 1e9, timeslices: fields[2]! };
}

/** One thread of a process: its id, name and CPU seconds so far. */
export interface ThreadTime {
  readonly tid: number;
  readonly name: string;
  readonly seconds: number;
}

/** Every thread of `pid` now; threads that ended since the listing are left out. */
export async function threadTimes(pid: number): Promise<ThreadTime[]> {
  const threads: ThreadTime[] = [];
  for await (const entry of Deno.readDir(`/proc/${pid}/task`)) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/task/${entry.name}/stat`);
      threads.push({ tid: Number(entry.name), name: parseCommand(stat), seconds: parseOwnSeconds(stat) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

export async function schedstat(pid: number, tid: number): Promise<Schedstat> {
  return parseSchedstat(await Deno.readTextFile(`/proc/${pid}/task/${tid}/schedstat`));
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
