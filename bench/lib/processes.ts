/**
 * The processes a benchmark starts: each one is registered when spawned and stopped (SIGTERM, then SIGKILL)
 * by `stopAll`, so a scenario leaves nothing running whatever happens. Owns spawning, log files, waiting for
 * an HTTP endpoint and free ports; must not know what the processes are.
 */

export interface Started {
  readonly name: string;
  readonly pid: number;
  readonly child: Deno.ChildProcess;
}

const running = new Set<Started>();
const everStarted: number[] = [];

/** A TCP port free on loopback right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts `cmd args` with its output appended to `log_path`. */
export async function spawn(
  name: string,
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; log_path: string; cwd?: string },
): Promise<Started> {
  const log = await Deno.open(options.log_path, { create: true, append: true });
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Both streams go to the one log file and are drained to the end, so the child never blocks writing
  // them. (Two `pipeTo`s into one writable cannot work: the second finds it locked.)
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      for (let done = 0; done < chunk.length;) done += await log.write(chunk.subarray(done));
    }
  };
  void Promise.all([drain(child.stdout), drain(child.stderr)])
    .catch(() => {})
    .finally(() => log.close());
  const started = { name, pid: child.pid, child };
  running.add(started);
  everStarted.push(child.pid);
  return started;
}

/** Stops one process: SIGTERM, then SIGKILL after `grace_millis`. */
export async function stop(p: Started, grace_millis = 3000): Promise<void> {
  running.delete(p);
  try {
    p.child.kill("SIGTERM");
  } catch {
    return; // already gone
  }
  const timer = setTimeout(() => {
    try {
      p.child.kill("SIGKILL");
    } catch {
      // gone meanwhile
    }
  }, grace_millis);
  await p.child.status;
  clearTimeout(timer);
}

/** Stops every process still registered, newest first. */
export async function stopAll(): Promise<void> {
  for (const p of [...running].reverse()) await stop(p);
}

/** Pids of every process ever started here that still exists (the smoke test expects none). */
export async function survivors(): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of everStarted) {
    try {
      await Deno.stat(`/proc/${pid}`);
      alive.push(pid);
    } catch {
      // gone, as it should be
    }
  }
  return alive;
}

/** Polls `check` until it returns true or `timeout_millis` passes. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeout_millis = 30_000) {
  const until = Date.now() + timeout_millis;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out after ${timeout_millis} ms waiting for ${what}`);
}

/** Resident memory of `pid` in KiB, from /proc. */
export async function residentKib(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/VmRSS:\s+(\d+) kB/);
  if (!match) throw new Error(`No VmRSS for process ${pid}`);
  return Number(match[1]);
}
