/**
 * The open-loop scenarios (oha at fixed rates): `openloop`, latency against offered load with the
 * target at half the model path's peak, and `soak`, half the peak held for minutes while the frontend's
 * resident memory is sampled. Both turn the prediction cache off, since they cycle through a pool of
 * inputs and must measure the model path.
 */

import {
  atLeast,
  atMost,
  type CurvePoint,
  kneeShare,
  type ScenarioResult,
  type Spread,
  spread,
} from "../lib/result.ts";
import { residentKib, stop, stopAll } from "../lib/processes.ts";
import { type Clipper, startCeiling, startClipper } from "../lib/servers.ts";
import { ohaArgs, type OpenLoopResult, runOha } from "../lib/oha.ts";
import { ceilings, closedLoop, type Context, counters, hyperFigures, script } from "./context.ts";
import { NOOP_SETUP } from "./closed_loop.ts";

const BODIES = Array.from({ length: 2000 }, (_, i) => `{"input": [${i}, ${i / 7}, 3.0]}`);

/** Starts Clipper without a cache and measures its closed-loop peak (the median of the measured runs: one
 * run's peak moved the half-peak rate by a third between two runs of a day). */
async function clipperAndPeak(ctx: Context): Promise<{ clipper: Clipper; peak: Spread }> {
  const clipper = await startClipper({ ...NOOP_SETUP, prediction_cache_bytes: 0 }, ctx.log_dir);
  const { requests_per_second } = await closedLoop(ctx, clipper.url, script("unique_inputs.lua"));
  return { clipper, peak: requests_per_second };
}

function ohaCommand(url: string, rate: number, duration_s: number): string {
  const args = ohaArgs({ url, bodies: [], rate_per_second: rate, duration_s }, "bodies.txt");
  return `oha ${args.join(" ")}  (bodies: ${BODIES.length} predict bodies, one per line)`;
}

export async function openloop(ctx: Context): Promise<ScenarioResult> {
  try {
    const { clipper, peak } = await clipperAndPeak(ctx);
    const url = `${clipper.url}/bench/predict`;
    const half = Math.max(1, Math.round(peak.median / 2));
    const fractions = ctx.smoke ? [0.25, 0.8] : [0.1, 0.25, 0.75, 0.8, 0.9, 1];
    const curve: CurvePoint[] = [];
    for (const f of fractions) {
      const rate = Math.max(1, Math.round(peak.median * f));
      const r = await runOha(
        { url, bodies: BODIES, rate_per_second: rate, duration_s: ctx.duration_s },
        ctx.log_dir,
      );
      curve.push({
        offered_per_second: rate,
        achieved_per_second: r.requests_per_second,
        p50_ms: r.p50_ms,
        p90_ms: r.p90_ms,
        p99_ms: r.p99_ms,
      });
    }
    const before = await counters(clipper.url);
    const runs = [];
    for (let i = 0; i < ctx.runs; i++) {
      runs.push(
        await runOha(
          { url, bodies: BODIES, rate_per_second: half, duration_s: ctx.duration_s },
          ctx.log_dir,
        ),
      );
    }
    const after = await counters(clipper.url);
    const mid = runs[Math.floor(runs.length / 2)]!;
    curve.push({
      offered_per_second: half,
      achieved_per_second: mid.requests_per_second,
      p50_ms: mid.p50_ms,
      p90_ms: mid.p90_ms,
      p99_ms: mid.p99_ms,
    });
    curve.sort((a, b) => a.offered_per_second - b.offered_per_second);
    await stopAll();
    const { deno: bare, hyper } = await ceilings({ ...ctx, runs: 1 }, script("unique_inputs.lua"));
    // The load generator's own latency at this rate: the ceiling under the same open-loop attack.
    const { url: ceilingUrl, server } = await startCeiling(ctx.log_dir);
    const bareOpen = await runOha(
      {
        url: `${ceilingUrl}/bench/predict`,
        bodies: BODIES,
        rate_per_second: half,
        duration_s: ctx.duration_s,
      },
      ctx.log_dir,
    );
    // The ceiling's curve under the same attacks, for the plot.
    const ceiling_curve: CurvePoint[] = [];
    for (const point of curve) {
      const r = await runOha(
        {
          url: `${ceilingUrl}/bench/predict`,
          bodies: BODIES,
          rate_per_second: point.offered_per_second,
          duration_s: ctx.duration_s,
        },
        ctx.log_dir,
      );
      ceiling_curve.push({
        offered_per_second: point.offered_per_second,
        achieved_per_second: r.requests_per_second,
        p50_ms: r.p50_ms,
        p90_ms: r.p90_ms,
        p99_ms: r.p99_ms,
      });
    }
    await stop(server);
    const p99 = spread(runs.map((r) => r.p99_ms));
    const defaults = after.default_outputs - before.default_outputs;
    const eighty = curve.find((p) => p.offered_per_second === Math.max(1, Math.round(peak.median * 0.8)))!;
    const knee = kneeShare(curve, peak.median);
    return {
      scenario: "openloop",
      description:
        "Open loop at 50 % of the model path's closed-loop peak (noop container, cache off), and a latency curve",
      commands: [...clipper.commands, ohaCommand(url, half, ctx.duration_s)],
      figures: {
        offered_per_second: spread(runs.map((r) => r.offered_per_second)),
        achieved_per_second: spread(runs.map((r) => r.requests_per_second)),
        p50_ms: spread(runs.map((r) => r.p50_ms)),
        p99_ms: p99,
        oha_cores: spread(runs.map((r) => r.generator_cores)),
        idle_cores: spread(runs.map((r) => r.idle_cores)),
        model_peak_requests_per_second: peak,
        ceiling_requests_per_second: bare.requests_per_second,
        ...hyperFigures(hyper),
        ceiling_p99_ms_at_same_rate: spread([bareOpen.p99_ms]),
        ceiling_oha_cores_at_same_rate: spread([bareOpen.generator_cores]),
      },
      targets: [
        atMost(
          "p99 latency at half the peak (ms), at most the ceiling's under the same attack",
          p99.median,
          bareOpen.p99_ms,
        ),
        atMost("default outputs at half the peak", defaults, 0),
        atMost("p99 latency at 80 % of the peak (ms)", eighty.p99_ms, 5),
        atLeast("knee of the latency curve, as a share of the peak", knee, 0.7),
      ],
      notes: {
        peak_share_of_ceiling: Number((peak.median / bare.requests_per_second.median).toFixed(3)),
        // The same attack on the bare ceiling shows what the machine and the generator add by themselves.
        p99_over_ceiling_p99: Number((p99.median / bareOpen.p99_ms).toFixed(2)),
        peak_share_of_hyper_ceiling: Number((peak.median / hyper.requests_per_second.median).toFixed(3)),
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
        mean_batch_size: Number(after.mean_batch_size.toFixed(1)),
      },
      curve,
      ceiling_curve,
    };
  } finally {
    await stopAll();
  }
}

/**
 * The soak's load is a run of consecutive attacks of `duration_s` each, not one long one: oha keeps every
 * result in one growing array, and each doubling stalls it (at 10k req/s the worst seconds of a 60 s attack,
 * on the bare ceiling and on Clipper alike, were at 26.2 and 52.4 s, the 2^18th and 2^19th result, with
 * stalls of 40-90 ms), so one 300 s attack reported the generator's stalls as the server's tail. Each
 * segment's p99 is as comparable as an open-loop run's.
 */
export async function soak(ctx: Context): Promise<ScenarioResult> {
  try {
    const { clipper, peak } = await clipperAndPeak(ctx);
    const half = Math.max(1, Math.round(peak.median / 2));
    const before = await counters(clipper.url);
    // Resident memory once a second while the attacks run.
    const samples: number[] = [];
    const started = performance.now();
    const sample = async () => {
      const kib = await residentKib(clipper.frontend.pid);
      if (performance.now() - started <= ctx.soak_s * 1000) samples.push(kib);
    };
    await sample();
    const sampler = setInterval(() => void sample().catch(() => {}), 1000);
    const segments: OpenLoopResult[] = [];
    try {
      for (let left = ctx.soak_s; left > 0; left -= ctx.duration_s) {
        segments.push(
          await runOha({
            url: `${clipper.url}/bench/predict`,
            bodies: BODIES,
            rate_per_second: half,
            duration_s: Math.min(ctx.duration_s, left),
          }, ctx.log_dir),
        );
      }
    } finally {
      clearInterval(sampler);
    }
    const seen = await counters(clipper.url);
    await stopAll();
    const { deno: bare, hyper } = await ceilings({ ...ctx, runs: 1 }, script("unique_inputs.lua"));
    // Growth: the last tenth of the soak against the second tenth (once buffers and JIT have settled), as
    // means, so one sample taken during a collection does not decide it.
    const tenth = Math.max(1, Math.floor(samples.length / 10));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const from = Math.min(tenth, samples.length - 1);
    const settled = mean(samples.slice(from, from + tenth));
    const growth = (mean(samples.slice(-tenth)) - settled) / settled;
    const maxMib = Math.max(...samples) / 1024;
    return {
      scenario: "soak",
      description:
        `Soak: ${ctx.soak_s} s at 50 % of the model path's peak (noop container, cache off) as consecutive ${ctx.duration_s} s attacks, frontend memory sampled each second`,
      commands: [...clipper.commands, ohaCommand(`${clipper.url}/bench/predict`, half, ctx.duration_s)],
      figures: {
        achieved_per_second: spread(segments.map((s) => s.requests_per_second)),
        p99_ms: spread(segments.map((s) => s.p99_ms)),
        resident_mib: spread(samples.map((k) => k / 1024)),
        ceiling_requests_per_second: bare.requests_per_second,
        ...hyperFigures(hyper),
      },
      targets: [
        atMost("resident memory growth (fraction)", Number(growth.toFixed(3)), 0.1),
        atMost("resident memory (MiB)", Number(maxMib.toFixed(1)), 300),
      ],
      notes: {
        samples: samples.length,
        segments: segments.length,
        default_outputs: seen.default_outputs - before.default_outputs,
        errors: segments.reduce((sum, s) => sum + s.errors, 0),
      },
    };
  } finally {
    await stopAll();
  }
}
