/**
 * Open-loop load at a fixed rate with vegeta (installed from the Go module proxy on first use): the
 * offered rate does not drop when the server slows down, so latency against offered load is honest. Owns
 * installing vegeta, the targets file and the JSON report parser.
 */

import type { LoadFigures } from "./wrk.ts";
import { accounted } from "./cpu.ts";

const VEGETA_MODULE = "github.com/tsenart/vegeta/v12@v12.13.0";

/** The vegeta binary, installed with `go install` when it is not on PATH or in GOPATH/bin. */
export async function vegetaPath(): Promise<string> {
  const gopath = new TextDecoder().decode(
    (await new Deno.Command("go", { args: ["env", "GOPATH"], stdout: "piped" }).output()).stdout,
  ).trim();
  const candidate = `${gopath}/bin/vegeta`;
  try {
    await Deno.stat(candidate);
    return candidate;
  } catch {
    const out = await new Deno.Command("go", {
      args: ["install", VEGETA_MODULE],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`Cannot install vegeta: ${new TextDecoder().decode(out.stderr)}`);
    return candidate;
  }
}

export interface VegetaRun {
  /** Full URL to POST to. */
  readonly url: string;
  /** JSON bodies, sent in turn. */
  readonly bodies: readonly string[];
  readonly rate_per_second: number;
  readonly duration_s: number;
}

export interface OpenLoopFigures extends LoadFigures {
  readonly offered_per_second: number;
}

/** An attack's figures, with vegeta's own CPU (in cores) and the machine's idle cores while it ran. */
export interface OpenLoopRun extends OpenLoopFigures {
  readonly generator_cores: number;
  readonly idle_cores: number;
}

/** Parses `vegeta report -type=json`. */
export function parseVegeta(json: string, offered: number): OpenLoopFigures {
  const r = JSON.parse(json);
  if (typeof r?.latencies?.["99th"] !== "number") {
    throw new Error(`Not a vegeta JSON report: ${json.slice(0, 200)}`);
  }
  const ns = 1e6;
  const failed = Math.round(r.requests * (1 - r.success));
  return {
    offered_per_second: offered,
    requests_per_second: r.throughput,
    p50_ms: r.latencies["50th"] / ns,
    p90_ms: r.latencies["90th"] / ns,
    p99_ms: r.latencies["99th"] / ns,
    requests: r.requests,
    errors: failed,
  };
}

export function vegetaAttackArgs(run: VegetaRun, targets: string): string[] {
  return [
    "attack",
    "-format=json",
    `-targets=${targets}`,
    `-rate=${run.rate_per_second}/1s`,
    `-duration=${run.duration_s}s`,
    "-max-workers=256",
  ];
}

/**
 * vegeta's garbage collector, left on, put pauses of 10 ms and more into its own latencies on 2 cores (its
 * p99 against the bare ceiling at 8.4k req/s: 3.0 ms; with the collector off until 4 GiB: 1.5 ms).
 */
export const VEGETA_ENV = { GOGC: "off", GOMEMLIMIT: "4GiB" } as const;

/** Runs one fixed-rate attack into a results file, then reports it (so reporting takes no CPU meanwhile). */
export async function runVegeta(run: VegetaRun, work_dir: string): Promise<OpenLoopRun> {
  const vegeta = await vegetaPath();
  const targets = `${work_dir}/targets.jsonl`;
  const results = `${work_dir}/vegeta-results.bin`;
  const lines = run.bodies.map((body) =>
    JSON.stringify({
      method: "POST",
      url: run.url,
      header: { "Content-Type": ["application/json"] },
      body: btoa(body),
    })
  );
  await Deno.writeTextFile(targets, lines.join("\n") + "\n");
  const { result: attacked, generator_cores, idle_cores } = await accounted(() =>
    new Deno.Command(vegeta, {
      args: [...vegetaAttackArgs(run, targets), `-output=${results}`],
      env: VEGETA_ENV,
      stdout: "null",
      stderr: "inherit",
    }).output()
  );
  if (!attacked.success) throw new Error(`vegeta attack failed with exit code ${attacked.code}`);
  const reported = await new Deno.Command(vegeta, {
    args: ["report", "-type=json", results],
    stdout: "piped",
  }).output();
  await Deno.remove(results);
  if (!reported.success) throw new Error(`vegeta report failed with exit code ${reported.code}`);
  return {
    ...parseVegeta(new TextDecoder().decode(reported.stdout), run.rate_per_second),
    generator_cores,
    idle_cores,
  };
}
