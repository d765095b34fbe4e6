/**
 * Closed-loop load with wrk (Debian package): runs it and parses its `--latency` report. Owns the command
 * line and the parser; must not decide durations or targets (scenarios do).
 */

export interface LoadFigures {
  readonly requests_per_second: number;
  readonly p50_ms: number;
  readonly p90_ms: number;
  readonly p99_ms: number;
  readonly requests: number;
  /** Socket errors plus non-2xx answers. */
  readonly errors: number;
}

export interface WrkRun {
  readonly url: string;
  readonly script: string;
  readonly duration_s: number;
  readonly connections: number;
  readonly threads: number;
}

export function wrkArgs(run: WrkRun): string[] {
  return [
    `-t${run.threads}`,
    `-c${run.connections}`,
    `-d${run.duration_s}s`,
    "-s",
    run.script,
    "--latency",
    run.url,
  ];
}

function millis(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case "us":
      return n / 1000;
    case "ms":
      return n;
    case "s":
      return n * 1000;
    case "m":
      return n * 60_000;
  }
  throw new Error(`Unknown wrk time unit "${unit}"`);
}

/** Parses wrk's report; throws naming what is missing when the output is not one. */
export function parseWrk(output: string): LoadFigures {
  const percentile = (p: string) => {
    const m = output.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
    if (!m) throw new Error(`wrk output has no ${p}% latency:\n${output}`);
    return millis(m[1]!, m[2]!);
  };
  const rps = output.match(/^Requests\/sec:\s+([\d.]+)/m);
  const total = output.match(/^\s+(\d+) requests in/m);
  if (!rps || !total) throw new Error(`wrk output has no request rate:\n${output}`);
  const socket = output.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = output.match(/Non-2xx or 3xx responses: (\d+)/);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requests_per_second: Number(rps[1]),
    p50_ms: percentile("50"),
    p90_ms: percentile("90"),
    p99_ms: percentile("99"),
    requests: Number(total[1]),
    errors: socketErrors + Number(non2xx?.[1] ?? 0),
  };
}

/** Runs wrk and returns its parsed figures. */
export async function runWrk(run: WrkRun): Promise<LoadFigures> {
  const out = await new Deno.Command("wrk", { args: wrkArgs(run), stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`wrk failed (exit ${out.code}):\n${text}`);
  return parseWrk(text);
}
