/**
 * Open-loop load at a fixed rate with oha (built from crates.io by `scripts/setup.ts` on first use): the
 * offered rate does not drop when the server slows down, and latency is counted from the moment a request
 * was due (`--latency-correction`), so latency against offered load is honest. Owns the bodies file, the
 * command line and the JSON report parser.
 *
 * oha replaced vegeta here: on 2 cores vegeta burned 1.2-1.26 cores to offer 11k req/s and its own p99
 * against the bare ceiling was 12-22 ms; oha burns 0.52 and shows 5.7 ms (bench/HISTORY.md).
 */

import type { LoadFigures } from "./wrk.ts";
import { accounted } from "./cpu.ts";
import { ensure, ohaBinary, STEPS } from "../../scripts/setup.ts";

let installed: Promise<string> | undefined;

/** The oha binary the harness runs, installed by the setup module when it is missing or another version;
 * checked once per process rather than before every attack. */
export function ohaPath(): Promise<string> {
  installed ??= ensure([STEPS.oha]).then(ohaBinary);
  return installed;
}

export interface OpenLoopRun {
  /** Full URL to POST to. */
  readonly url: string;
  /** JSON bodies, one per line of the bodies file; oha picks one at random for each request. */
  readonly bodies: readonly string[];
  readonly rate_per_second: number;
  readonly duration_s: number;
}

export interface OpenLoopFigures extends LoadFigures {
  readonly offered_per_second: number;
}

/** An attack's figures, with the generator's own CPU (in cores) and the machine's idle cores meanwhile. */
export interface OpenLoopResult extends OpenLoopFigures {
  readonly generator_cores: number;
  readonly idle_cores: number;
}

/** Parses `oha --output-format json`: latencies are in seconds; errors are socket errors and non-2xx. */
export function parseOha(json: string, offered: number): OpenLoopFigures {
  const r = JSON.parse(json);
  const p = r?.latencyPercentiles;
  if (typeof p?.p99 !== "number" || typeof r?.summary?.requestsPerSec !== "number") {
    throw new Error(`Not an oha JSON report: ${json.slice(0, 200)}`);
  }
  const count = (m: Record<string, number> | undefined, keep: (key: string) => boolean) =>
    Object.entries(m ?? {}).reduce((sum, [k, n]) => sum + (keep(k) ? n : 0), 0);
  const statuses = r.statusCodeDistribution as Record<string, number> | undefined;
  const unanswered = count(r.errorDistribution, () => true);
  return {
    offered_per_second: offered,
    requests_per_second: r.summary.requestsPerSec,
    p50_ms: p.p50 * 1e3,
    p90_ms: p.p90 * 1e3,
    p99_ms: p.p99 * 1e3,
    requests: count(statuses, () => true) + unanswered,
    errors: count(statuses, (code) => !code.startsWith("2")) + unanswered,
  };
}

/** How the load is shaped: 64 connections at the run's rate, for its duration. At 11k req/s and a few ms
 * of latency about 30 connections are busy, and a request due while all are busy waits inside oha
 * (counted, thanks to the correction). `-w` lets the last requests finish rather than counting them as
 * aborted. */
export function ohaRateArgs(run: OpenLoopRun): string[] {
  return [
    "-q",
    String(run.rate_per_second),
    "-z",
    `${run.duration_s}s`,
    "-c",
    "64",
    "-w",
    "--latency-correction",
  ];
}

/** What every attack ends with: a JSON report, each request a POST of one line of `bodies_file`. */
function ohaRequestArgs(bodies_file: string, url: string): string[] {
  return [
    "--no-tui",
    "--output-format",
    "json",
    "-m",
    "POST",
    "-T",
    "application/json",
    "-Z",
    bodies_file,
    url,
  ];
}

export function ohaArgs(run: OpenLoopRun, bodies_file: string): string[] {
  return [...ohaRateArgs(run), ...ohaRequestArgs(bodies_file, run.url)];
}

/** Runs one fixed-rate attack and parses its report. */
export function runOha(run: OpenLoopRun, work_dir: string): Promise<OpenLoopResult> {
  return runOhaShaped(ohaRateArgs(run), run, run.rate_per_second, work_dir);
}

/** Runs oha with the load shaped by `shape` (rate or count, connections, and any other option, such as
 * `--db-url`) against `run`'s URL and bodies; `offered` is reported as the offered rate. */
export async function runOhaShaped(
  shape: readonly string[],
  run: Pick<OpenLoopRun, "url" | "bodies">,
  offered: number,
  work_dir: string,
): Promise<OpenLoopResult> {
  const oha = await ohaPath();
  const bodies = `${work_dir}/bodies.txt`;
  await Deno.writeTextFile(bodies, run.bodies.join("\n") + "\n");
  const args = [...shape, ...ohaRequestArgs(bodies, run.url)];
  const { result: out, generator_cores, idle_cores } = await accounted(() =>
    new Deno.Command(oha, { args, stdout: "piped", stderr: "piped" }).output()
  );
  if (!out.success) {
    throw new Error(`oha failed with exit code ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { ...parseOha(new TextDecoder().decode(out.stdout), offered), generator_cores, idle_cores };
}
