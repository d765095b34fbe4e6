/**
 * Profilers run over the middle of a probe's load: `perf record` (of the whole machine, the frontend, its
 * core thread or the container) and `py-spy record` of the container. Each prints the command it ran and
 * a short report; a profiler that is not installed is named with the command that would have run. Owns
 * the command lines and the summary of py-spy's collapsed stacks; must not start servers or load.
 */

export type PerfTarget = "all" | "frontend" | "core" | "container";

export interface ProfiledProcesses {
  readonly frontend?: number;
  readonly core_tid?: number;
  readonly container?: number;
}

export function perfRecordArgs(
  target: PerfTarget,
  p: ProfiledProcesses,
  seconds: number,
  output: string,
): string[] {
  const need = (what: string, id: number | undefined) => {
    if (id === undefined) throw new Error(`perf ${target}: this arm has no ${what}`);
    return String(id);
  };
  const who = target === "all"
    ? ["-a"]
    : target === "core"
    ? ["-t", need("core thread", p.core_tid)]
    : ["-p", need(target, target === "frontend" ? p.frontend : p.container)];
  // 999 Hz: off the timer's multiples, so sampling does not beat with periodic work.
  return ["record", "-F", "999", ...who, "-o", output, "--", "sleep", String(seconds)];
}

/** How the report groups samples: by program and library for the whole machine, by function otherwise. */
export function perfReportArgs(target: PerfTarget, input: string): string[] {
  const sort = target === "all" ? "comm,dso" : "comm,dso,sym";
  return ["report", "-i", input, "--stdio", "--no-children", "--percent-limit", "1", "--sort", sort];
}

export function pySpyArgs(pid: number, seconds: number, output: string): string[] {
  // --nonblocking: the container is not paused to be sampled, so the load it serves is the real one.
  return [
    "record",
    "-r",
    "200",
    "--nonblocking",
    "-p",
    String(pid),
    "-d",
    String(seconds),
    "-f",
    "raw",
    "-o",
    output,
  ];
}

/** Functions by the share of samples whose stack holds them (inclusive), from py-spy's raw output
 * (collapsed stacks: `frame;frame;... count`, the innermost frame last). */
export function inclusiveShares(collapsed: string): { frame: string; share: number }[] {
  const counts = new Map<string, number>();
  let total = 0;
  for (const line of collapsed.split("\n")) {
    const m = line.match(/^(.*) (\d+)$/);
    if (!m) continue;
    const n = Number(m[2]);
    total += n;
    for (const frame of new Set(m[1]!.split(";"))) counts.set(frame, (counts.get(frame) ?? 0) + n);
  }
  return [...counts.entries()].map(([frame, n]) => ({ frame, share: n / total }))
    .sort((a, b) => b.share - a.share);
}

async function found(cmd: string): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<string> {
  console.log(`    $ ${cmd} ${args.join(" ")}`);
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Waits `delay_s`, records for `seconds`, then prints the report's first `lines` lines. */
export async function perf(
  target: PerfTarget,
  p: ProfiledProcesses,
  delay_s: number,
  seconds: number,
  output: string,
  lines = 40,
): Promise<void> {
  let record: string[];
  try {
    record = perfRecordArgs(target, p, seconds, output);
  } catch (e) {
    console.log(`    ${(e as Error).message}; not profiled`);
    return;
  }
  await new Promise((r) => setTimeout(r, delay_s * 1000));
  if (!await found("perf")) {
    console.log(`    perf is not installed; the command would be: perf ${record.join(" ")}`);
    return;
  }
  await run("perf", record);
  const report = await run("perf", perfReportArgs(target, output));
  const body = report.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
  console.log(body.slice(0, lines).map((l) => `    ${l}`).join("\n"));
}

/** Waits `delay_s`, samples the container with py-spy for `seconds`, prints the top functions. */
export async function pySpy(
  pid: number | undefined,
  delay_s: number,
  seconds: number,
  output: string,
): Promise<void> {
  if (pid === undefined) {
    console.log("    py-spy: this arm has no container; not profiled");
    return;
  }
  await new Promise((r) => setTimeout(r, delay_s * 1000));
  const args = pySpyArgs(pid, seconds, output);
  if (!await found("py-spy")) {
    console.log(
      `    py-spy is not installed (pip install py-spy); the command would be: py-spy ${args.join(" ")}`,
    );
    return;
  }
  await run("py-spy", args);
  const top = inclusiveShares(await Deno.readTextFile(output)).slice(0, 15);
  console.log(top.map((t) => `    ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.frame}`).join("\n"));
}
