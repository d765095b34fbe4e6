/**
 * The selection scenario: what a selection policy costs on the model path. The same Python noop model is
 * linked three times (three names, a container each) to an app under `exp3` (one drawn model per query) and
 * under `exp4` (every query asked of all three and combined), and measured beside the single-model path and
 * the bare ceiling in the same run, with unique inputs (no cache hit) and the model scenario's load. The
 * targets compare with the single model on one container, as the model scenario serves it; the single model
 * on the same three containers (as replicas) is reported beside it, to tell what the selection costs from
 * what three Python processes cost on these cores.
 */

import { atLeast, type ScenarioResult } from "../lib/result.ts";
import { stopAll } from "../lib/processes.ts";
import { startClipper } from "../lib/servers.ts";
import { NOOP_SETUP } from "./closed_loop.ts";
import { ceilings, type Context, countedClosedLoop, hyperFigures, ratio, script } from "./context.ts";

const THREE = ["m", "m2", "m3"];

async function measure(ctx: Context, models: readonly string[], policy?: string, replicas = 1) {
  try {
    const clipper = await startClipper(
      { ...NOOP_SETUP, models, replicas, policy: policy ? { name: policy } : undefined },
      ctx.log_dir,
    );
    const run = await countedClosedLoop(ctx, clipper.url, script("unique_inputs.lua"));
    return { ...run, commands: [...clipper.commands, run.series.command] };
  } finally {
    await stopAll();
  }
}

export async function selection(ctx: Context): Promise<ScenarioResult> {
  const single = await measure(ctx, ["m"]);
  // The same three containers as the policies' apps, as replicas of the one model: what three Python
  // processes on these cores cost apart from the selection, which the targets are about.
  const singleThree = await measure(ctx, ["m"], undefined, 3);
  const exp3 = await measure(ctx, THREE, "exp3");
  const exp4 = await measure(ctx, THREE, "exp4");
  const { deno: bare, hyper } = await ceilings(ctx, script("unique_inputs.lua"));
  const rps = (r: typeof single) => r.series.requests_per_second;
  const exp3Share = ratio(rps(exp3), rps(single));
  const exp4Share = ratio(rps(exp4), rps(single));
  return {
    scenario: "selection",
    description: "Selection policies on the model path: one noop model linked three times, unique inputs, " +
      "exp3 and exp4 beside the single-model path in the same run",
    commands: [
      ...single.commands,
      ...singleThree.commands,
      ...exp3.commands,
      ...exp4.commands,
      `deno run --allow-net bench/ceiling.ts PORT, then ${bare.command}`,
    ],
    figures: {
      single_requests_per_second: rps(single),
      single_p99_ms: single.series.p99_ms,
      single_three_replicas_requests_per_second: rps(singleThree),
      single_three_replicas_p99_ms: singleThree.series.p99_ms,
      exp3_requests_per_second: rps(exp3),
      exp3_p99_ms: exp3.series.p99_ms,
      exp4_requests_per_second: rps(exp4),
      exp4_p99_ms: exp4.series.p99_ms,
      ceiling_requests_per_second: bare.requests_per_second,
      ...hyperFigures(hyper),
      ceiling_p99_ms: bare.p99_ms,
    },
    targets: [
      atLeast("exp3 req/s as a share of the single model's", exp3Share, 0.9),
      atLeast("exp4 req/s as a share of the single model's", exp4Share, 0.5),
    ],
    notes: {
      exp3_share_of_single: Number(exp3Share.toFixed(3)),
      exp4_share_of_single: Number(exp4Share.toFixed(3)),
      exp3_share_of_single_three_replicas: Number(ratio(rps(exp3), rps(singleThree)).toFixed(3)),
      exp4_share_of_single_three_replicas: Number(ratio(rps(exp4), rps(singleThree)).toFixed(3)),
      single_share_of_ceiling: Number(ratio(rps(single), bare.requests_per_second).toFixed(3)),
      default_outputs: [single, singleThree, exp3, exp4]
        .map((r) => r.seen.default_outputs - r.before.default_outputs).join(" / "),
      errors: [single, singleThree, exp3, exp4].map((r) => r.series.errors).join(" / "),
    },
  };
}
