/**
 * The closed-loop scenarios (wrk at 32 connections): `model`, every query reaching one Python noop
 * container, and `cache`, one repeated input answered by the prediction cache. Each measures the ceiling
 * with the same script in the same run.
 */

import { atLeast, atMost, type ScenarioResult } from "../lib/result.ts";
import { stopAll } from "../lib/processes.ts";
import { startClipper } from "../lib/servers.ts";
import { ceilings, type Context, countedClosedLoop, hyperFigures, ratio, script } from "./context.ts";

export const NOOP_SETUP = {
  container: ["-m", "clipper_container.examples.noop"],
  input_type: "doubles",
  latency_slo_micros: 100_000,
  batch_size: -1,
  prediction_cache_bytes: 32 * 1024 * 1024,
  probe_input: [1],
};

async function closedLoopScenario(
  ctx: Context,
  scenario: string,
  description: string,
  script_name: string,
  goals: { deno_share?: number; hyper_share: number; p99_within_deno_ceiling?: boolean },
): Promise<ScenarioResult> {
  try {
    const clipper = await startClipper(NOOP_SETUP, ctx.log_dir);
    const { series: measured, before, seen } = await countedClosedLoop(ctx, clipper.url, script(script_name));
    await stopAll();
    const { deno: bare, hyper } = await ceilings(ctx, script(script_name));
    const share = ratio(measured.requests_per_second, bare.requests_per_second);
    const hyper_share = ratio(measured.requests_per_second, hyper.requests_per_second);
    const targets = [atLeast("req/s as a share of the hyper ceiling", hyper_share, goals.hyper_share)];
    if (goals.deno_share !== undefined) {
      targets.push(atLeast("req/s as a share of the Deno.serve ceiling", share, goals.deno_share));
    }
    if (goals.p99_within_deno_ceiling) {
      targets.push(
        atMost(
          "p99 latency (ms), at most the Deno.serve ceiling's",
          measured.p99_ms.median,
          bare.p99_ms.median,
        ),
      );
    }
    return {
      scenario,
      description,
      commands: [
        ...clipper.commands,
        measured.command,
        `deno run --allow-net bench/ceiling.ts PORT, then ${bare.command}`,
        `native/target/release/hyper_ceiling PORT, then ${hyper.command}`,
      ],
      figures: {
        requests_per_second: measured.requests_per_second,
        p50_ms: measured.p50_ms,
        p99_ms: measured.p99_ms,
        wrk_cores: measured.generator_cores,
        idle_cores: measured.idle_cores,
        ceiling_requests_per_second: bare.requests_per_second,
        ...hyperFigures(hyper),
        ceiling_p99_ms: bare.p99_ms,
      },
      targets,
      notes: {
        share_of_ceiling: Number(share.toFixed(3)),
        share_of_hyper_ceiling: Number(hyper_share.toFixed(3)),
        errors: measured.errors,
        default_outputs: seen.default_outputs - before.default_outputs,
        model_predictions: seen.predictions - before.predictions,
        cache_hits: seen.cache_hits - before.cache_hits,
        mean_batch_size: Number(seen.mean_batch_size.toFixed(1)),
      },
    };
  } finally {
    await stopAll();
  }
}

export function model(ctx: Context): Promise<ScenarioResult> {
  return closedLoopScenario(
    ctx,
    "model",
    "Model path: unique inputs, one Python noop container, 100 ms objective, adaptive batching",
    "unique_inputs.lua",
    // Issue 17's targets: the ceilings' own figures in the same run stand in for absolute ones.
    { deno_share: 0.8, hyper_share: 0.5, p99_within_deno_ceiling: true },
  );
}

export function cache(ctx: Context): Promise<ScenarioResult> {
  return closedLoopScenario(
    ctx,
    "cache",
    "Cache path: one repeated input, answered by the prediction cache",
    "repeated_input.lua",
    { hyper_share: 0.8 },
  );
}
