/**
 * What every scenario is given (run lengths, where to write logs) and the measurements they share: a
 * closed-loop series with warm-up against any URL, the ceiling measured the same way, and the frontend's
 * own counters. Must not hold a scenario's targets.
 */

import { type LoadFigures, runWrk, wrkArgs } from "../lib/wrk.ts";
import { type Spread, spread } from "../lib/result.ts";
import { startCeiling, startHyperCeiling } from "../lib/servers.ts";
import { stop } from "../lib/processes.ts";
import { accounted } from "../lib/cpu.ts";

export interface Context {
  /** Seconds of each measured run. */
  readonly duration_s: number;
  readonly warmup_s: number;
  readonly runs: number;
  /** Seconds of the soak scenario's load. */
  readonly soak_s: number;
  readonly log_dir: string;
  /** True for the 1-second smoke run of `deno task test`. */
  readonly smoke: boolean;
}

export const CONNECTIONS = 32;
export const THREADS = 2;
const root = new URL("../..", import.meta.url).pathname;

export function script(name: string): string {
  return `${root}bench/wrk/${name}`;
}

export interface Series {
  readonly runs: LoadFigures[];
  readonly requests_per_second: Spread;
  readonly p50_ms: Spread;
  readonly p99_ms: Spread;
  readonly errors: number;
  /** wrk's own CPU, in cores, and the machine's idle cores, over each measured run. */
  readonly generator_cores: Spread;
  readonly idle_cores: Spread;
  /** The wrk command line of one measured run. */
  readonly command: string;
}

/** Warm-up, then `ctx.runs` measured wrk runs against `url` with `script_path`; `warmed` runs between. */
export async function closedLoop(
  ctx: Context,
  url: string,
  script_path: string,
  warmed: () => Promise<void> = async () => {},
): Promise<Series> {
  const run = {
    url,
    script: script_path,
    duration_s: ctx.duration_s,
    connections: CONNECTIONS,
    threads: THREADS,
  };
  if (ctx.warmup_s > 0) await runWrk({ ...run, duration_s: ctx.warmup_s });
  await warmed();
  const runs: LoadFigures[] = [];
  const generator: number[] = [];
  const idle: number[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    const { result, generator_cores, idle_cores } = await accounted(() => runWrk(run));
    runs.push(result);
    generator.push(generator_cores);
    idle.push(idle_cores);
  }
  return {
    runs,
    requests_per_second: spread(runs.map((r) => r.requests_per_second)),
    p50_ms: spread(runs.map((r) => r.p50_ms)),
    p99_ms: spread(runs.map((r) => r.p99_ms)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    generator_cores: spread(generator),
    idle_cores: spread(idle),
    command: `wrk ${wrkArgs(run).join(" ").replace(root, "")}`,
  };
}

/**
 * `closedLoop` against a Clipper, with its counters read at the end of the warm-up (`before`) and after the
 * measured runs (`seen`), so their differences cover the measured load only: start-up's readiness probes
 * get default outputs until the container connects, and are no part of the load.
 */
export async function countedClosedLoop(
  ctx: Context,
  url: string,
  script_path: string,
): Promise<{ series: Series; before: FrontendCounters; seen: FrontendCounters }> {
  let before: FrontendCounters | undefined;
  const series = await closedLoop(ctx, url, script_path, async () => {
    before = await counters(url);
  });
  return { series, before: before!, seen: await counters(url) };
}

/**
 * Both ceilings under the same load script, measured now: the bare `Deno.serve` handler (`deno`) and the
 * bare hyper server with the core's own hyper and thread layout (`hyper`). Each parses the body and answers
 * a small JSON object; neither queues, batches or runs a model.
 */
export async function ceilings(ctx: Context, script_path: string): Promise<{ deno: Series; hyper: Series }> {
  const measure = async (start: typeof startCeiling) => {
    const { url, server } = await start(ctx.log_dir);
    try {
      return await closedLoop(ctx, url, script_path);
    } finally {
      await stop(server);
    }
  };
  return { deno: await measure(startCeiling), hyper: await measure(startHyperCeiling) };
}

/** The figures every scenario reports of the hyper ceiling, beside the `Deno.serve` ceiling's. */
export function hyperFigures(hyper: Series): Record<string, Spread> {
  return {
    hyper_ceiling_requests_per_second: hyper.requests_per_second,
    hyper_ceiling_p99_ms: hyper.p99_ms,
  };
}

export interface FrontendCounters {
  readonly default_outputs: number;
  readonly predictions: number;
  readonly cache_hits: number;
  readonly mean_batch_size: number;
  /** Batches the core sent to containers, including those whose queries all missed their deadline. */
  readonly batches_sent: number;
}

/** Counters from the frontend's GET /metrics for app "bench" and model "m:1". */
export async function counters(url: string): Promise<FrontendCounters> {
  const m = await (await fetch(`${url}/metrics`)).json();
  const app = m.apps?.bench;
  // Every model the frontend serves is the bench app's (several under a selection policy).
  const models = Object.values(m.models ?? {}) as {
    predictions: number;
    cache_hits: number;
    batch_size: { mean: number };
  }[];
  if (!app || models.length === 0 || !m.core) {
    throw new Error(`The frontend's metrics have no app "bench", no model or no core counters`);
  }
  const predictions = models.reduce((sum, model) => sum + model.predictions, 0);
  const batched = models.reduce((sum, model) => sum + model.batch_size.mean * model.predictions, 0);
  return {
    default_outputs: app.default_outputs,
    predictions,
    cache_hits: models.reduce((sum, model) => sum + model.cache_hits, 0),
    mean_batch_size: predictions > 0 ? batched / predictions : 0,
    batches_sent: m.core.batches_sent,
  };
}

export function ratio(a: Spread, b: Spread): number {
  return a.median / b.median;
}
