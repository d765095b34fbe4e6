/**
 * The probe behind the hand-measured figures of bench/results/README.md and bench/HISTORY.md: the same
 * load against two or more arms in turn (Clipper, the bare ceiling, another revision, a reniced core, busy
 * loops on the side...), round after round, each arm started afresh for each run so the core's cumulative
 * histograms cover that run alone. A shared machine moves every figure by up to a factor of two from one
 * hour to the next; alternating in pairs is what makes two arms comparable.
 *
 * Usage: deno run --allow-all bench/probes/alternate.ts LOAD [options] ARM [ARM...]
 *
 * LOAD, one of:
 *   --rate R            oha at R req/s, 64 connections, latency from when each request was due (openloop's)
 *   --connections C     oha closed loop on C connections (1: one request at a time); --requests N for
 *                       N requests instead of --duration
 *   --wrk SCRIPT        wrk -t2 -c32 with bench/wrk/SCRIPT (model, cache, batching and peers scenarios')
 * Options:
 *   --duration S        seconds of each run (10)
 *   --rounds N          rounds of one run per arm (3)
 *   --bodies small|784  oha's bodies: the open-loop scenario's 3-number inputs (small, the default) or
 *                       784 features as bench/wrk/features_784.lua sends (for model=logreg)
 *   --per-second        oha stores each request (--db-url); prints each second's p99 and oha's own wait
 *   --perf all|frontend|core|container   perf record over the middle of each arm's first run
 *   --py-spy            py-spy record of the container over the middle of each arm's first run
 *   --profile-seconds S how long the profilers sample (half the run by default)
 * ARM: see bench/probes/lib/arms.ts (e.g. clipper, ceiling, clipper,renice=-10, ceiling,spin=2,
 *   clipper,model=logreg,batch=1,timed, clipper,python=672e271, clipper,rev=1459184).
 *
 * Prints each run's client figures as it goes, then every figure's median (min-max) per arm and, for each
 * arm after the first, the median of its per-round ratios to the first. Logs and the figures as JSON go to
 * bench/results/probe-<UTC time>/. Figures: the client's (rate, p50, p90, p99, errors); the generator's CPU
 * and the idle cores; each thread's CPU in cores and in microseconds per request (from /proc/PID/task);
 * for Clipper, the core's own figures from /metrics (a request from its parsed body to its answer written,
 * the container round trip of a batch, batch size, model answers, default outputs, batches sent) and the
 * core thread's schedstat (time on a CPU, time runnable but waiting, timeslices); for a timed container,
 * its thread time per batch in each step.
 */

import { parseArgs } from "node:util";
import { accounted, type Schedstat, schedstat, type ThreadTime, threadTimes } from "../lib/cpu.ts";
import { ohaRateArgs, type OpenLoopResult, runOhaShaped } from "../lib/oha.ts";
import { stopAll } from "../lib/processes.ts";
import { fmt } from "../lib/report.ts";
import { spread } from "../lib/result.ts";
import { runWrk } from "../lib/wrk.ts";
import { CONNECTIONS, counters, type FrontendCounters, script, THREADS } from "../scenarios/context.ts";
import { type ArmSpec, parseArm, type RunningArm, startArm, startSpin } from "./lib/arms.ts";
import { formatSeconds, perSecond, readOhaDb } from "./lib/per_second.ts";
import { perf, type PerfTarget, pySpy } from "./lib/profile.ts";

const root = new URL("../..", import.meta.url).pathname;

export interface Load {
  readonly kind: "rate" | "connections" | "wrk";
  readonly rate?: number;
  readonly connections?: number;
  readonly requests?: number;
  readonly script?: string;
  readonly duration_s: number;
  readonly bodies: readonly string[];
  readonly per_second: boolean;
}

/** The open-loop scenario's inputs, and 784 features as bench/wrk/features_784.lua makes them. */
function bodies(kind: string): string[] {
  if (kind === "small") return Array.from({ length: 2000 }, (_, i) => `{"input": [${i}, ${i / 7}, 3.0]}`);
  if (kind !== "784") throw new Error(`--bodies is small or 784, not "${kind}"`);
  return Array.from({ length: 64 }, () => {
    const values = Array.from({ length: 784 }, () => Math.random().toFixed(4));
    return `{"input": [${values.join(",")}]}`;
  });
}

/** Figures of one run of one arm, by name; a run lacking one (the ceiling has no core) leaves it out. */
type Figures = Record<string, number>;

/** Runs the load; returns the client's figures, with the generator's CPU and the idle cores meanwhile. */
async function runLoad(load: Load, url: string, dir: string, db?: string): Promise<OpenLoopResult> {
  if (load.kind === "wrk") {
    const { result, generator_cores, idle_cores } = await accounted(() =>
      runWrk({
        url,
        script: script(load.script!),
        duration_s: load.duration_s,
        connections: CONNECTIONS,
        threads: THREADS,
      })
    );
    return { ...result, offered_per_second: 0, generator_cores, idle_cores };
  }
  const target = { url: `${url}/bench/predict`, bodies: load.bodies };
  const shape = load.kind === "rate"
    ? ohaRateArgs({ ...target, rate_per_second: load.rate!, duration_s: load.duration_s })
    : load.requests
    ? ["-n", String(load.requests), "-c", String(load.connections)]
    // -w: requests still in flight at the end are waited for, not counted as errors.
    : ["-z", `${load.duration_s}s`, "-c", String(load.connections), "-w"];
  return await runOhaShaped([...shape, ...(db ? ["--db-url", db] : [])], target, load.rate ?? 0, dir);
}

/** CPU of each thread between two readings, summed by process role and thread name. */
export function threadCpu(
  before: ReadonlyMap<string, readonly ThreadTime[]>,
  after: ReadonlyMap<string, readonly ThreadTime[]>,
): Map<string, number> {
  const used = new Map<string, number>();
  for (const [role, threads] of after) {
    const earlier = new Map((before.get(role) ?? []).map((t) => [t.tid, t.seconds]));
    for (const t of threads) {
      const key = `${role} ${t.name}`;
      used.set(key, (used.get(key) ?? 0) + t.seconds - (earlier.get(t.tid) ?? 0));
    }
  }
  return used;
}

async function readThreads(arm: RunningArm): Promise<Map<string, ThreadTime[]>> {
  const out = new Map<string, ThreadTime[]>();
  for (const p of arm.processes) out.set(p.role, await threadTimes(p.pid));
  return out;
}

interface CoreHistograms {
  readonly request: { p50: number; p99: number };
  readonly round_trip: { p50: number; p95: number; p99: number };
}

async function coreHistograms(url: string): Promise<CoreHistograms | undefined> {
  const m = await (await fetch(`${url}/metrics`)).json();
  const request = m.apps?.bench?.latency_micros;
  const round_trip = m.models?.["m:1"]?.latency_micros;
  return request && round_trip ? { request, round_trip } : undefined;
}

/** One run of one arm: start it, load it, read everything, stop it. */
async function measure(
  spec: ArmSpec,
  load: Load,
  dir: string,
  round: number,
  profiling: { perf?: PerfTarget; py_spy: boolean; seconds: number },
): Promise<{ figures: Figures; commands: readonly string[] }> {
  const arm = await startArm(spec, dir, round);
  const tag = `${spec.name.replace(/\W+/g, "_")}-${round}`;
  try {
    await startSpin(spec, dir);
    const count = async () => arm.clipper ? await counters(arm.url).catch(() => undefined) : undefined;
    const sched = async () =>
      arm.core_tid === undefined ? undefined : await schedstat(arm.processes[0]!.pid, arm.core_tid);
    const [countsBefore, schedBefore, threadsBefore] = [await count(), await sched(), await readThreads(arm)];
    const profilers: Promise<void>[] = [];
    // Profile the middle of the run, away from its start and its end.
    const delay = Math.max(0, (load.duration_s - profiling.seconds) / 2);
    const ids = {
      frontend: arm.clipper?.frontend.pid,
      core_tid: arm.core_tid,
      container: arm.clipper?.container.pid,
    };
    if (round === 1 && profiling.perf) {
      profilers.push(perf(profiling.perf, ids, delay, profiling.seconds, `${dir}/perf-${tag}.data`));
    }
    if (round === 1 && profiling.py_spy) {
      profilers.push(pySpy(ids.container, delay, profiling.seconds, `${dir}/py-spy-${tag}.txt`));
    }
    const db = load.per_second && load.kind !== "wrk" ? `${dir}/oha-${tag}.db` : undefined;
    const started = performance.now();
    const r = await runLoad(load, arm.url, dir, db);
    // A timed load's rates are per second of its duration, as the scenarios'; a counted one's per second of wall time.
    const seconds = load.requests ? (performance.now() - started) / 1000 : load.duration_s;
    const [countsAfter, schedAfter, threadsAfter] = [await count(), await sched(), await readThreads(arm)];
    const histograms = arm.clipper ? await coreHistograms(arm.url).catch(() => undefined) : undefined;
    await Promise.all(profilers);
    const figures: Figures = {
      "req/s": r.requests_per_second,
      "p50 ms": r.p50_ms,
      "p90 ms": r.p90_ms,
      "p99 ms": r.p99_ms,
      "errors": r.errors,
      "idle cores": r.idle_cores,
      "generator cores": r.generator_cores,
      "generator µs/request": (r.generator_cores * seconds * 1e6) / r.requests,
    };
    addThreads(figures, threadCpu(threadsBefore, threadsAfter), seconds, r.requests);
    if (histograms) addHistograms(figures, histograms);
    if (countsBefore && countsAfter) addCounts(figures, countsBefore, countsAfter, seconds);
    if (schedBefore && schedAfter) addSchedstat(figures, schedBefore, schedAfter);
    console.log(`  round ${round} ${spec.name}: ${summaryLine(figures)}`);
    if (db) console.log(formatSeconds(perSecond(readOhaDb(db))));
    await stopAll();
    // The timed container writes its steps as it stops.
    if (arm.steps_file) addSteps(figures, JSON.parse(await Deno.readTextFile(arm.steps_file)));
    return { figures, commands: arm.commands };
  } finally {
    await stopAll();
  }
}

function addThreads(figures: Figures, used: Map<string, number>, seconds: number, requests: number): void {
  let other = 0;
  for (const [key, cpu] of [...used].sort(([a], [b]) => a.localeCompare(b))) {
    const us = (cpu * 1e6) / requests;
    // Threads that did next to nothing would only lengthen the table.
    if (us < 1 && cpu / seconds < 0.01) {
      other += cpu;
      continue;
    }
    figures[`cores: ${key}`] = cpu / seconds;
    figures[`µs/request: ${key}`] = us;
  }
  if (used.size > 0) figures["cores: other threads"] = other / seconds;
}

function addHistograms(figures: Figures, h: CoreHistograms): void {
  figures["core: request p50 ms"] = h.request.p50 / 1e3;
  figures["core: request p99 ms"] = h.request.p99 / 1e3;
  figures["core: container round trip p50 ms"] = h.round_trip.p50 / 1e3;
  figures["core: container round trip p95 ms"] = h.round_trip.p95 / 1e3;
  figures["core: container round trip p99 ms"] = h.round_trip.p99 / 1e3;
}

function addCounts(figures: Figures, before: FrontendCounters, after: FrontendCounters, seconds: number) {
  figures["core: model answers"] = after.predictions - before.predictions;
  figures["core: model answers/s"] = (after.predictions - before.predictions) / seconds;
  // With batch size 1, batches the container computed whose queries had already got their default.
  figures["core: batches sent"] = after.batches_sent - before.batches_sent;
  figures["core: default outputs"] = after.default_outputs - before.default_outputs;
  figures["core: mean batch size per answer, since start"] = after.mean_batch_size;
}

function addSchedstat(figures: Figures, before: Schedstat, after: Schedstat): void {
  figures["core thread: on a CPU s"] = after.run_s - before.run_s;
  figures["core thread: runnable, waiting s"] = after.wait_s - before.wait_s;
  figures["core thread: timeslices"] = after.timeslices - before.timeslices;
}

function addSteps(
  figures: Figures,
  steps: { seconds: Record<string, number>; batches: number; queries: number },
) {
  const batches = Math.max(steps.batches, 1);
  figures["container: queries per batch"] = steps.queries / batches;
  let total = 0;
  for (const [step, s] of Object.entries(steps.seconds)) {
    figures[`container µs/batch: ${step}`] = (s * 1e6) / batches;
    if (step !== "idle receive") total += s;
  }
  figures["container µs/batch: all steps"] = (total * 1e6) / batches;
}

function summaryLine(f: Figures): string {
  const parts = [`${fmt(f["req/s"]!)} req/s`, `p50 ${fmt(f["p50 ms"]!)} ms`, `p99 ${fmt(f["p99 ms"]!)} ms`];
  if (f["errors"]) parts.push(`${f["errors"]} errors`);
  if (f["core: model answers/s"] !== undefined) parts.push(`${fmt(f["core: model answers/s"])} answers/s`);
  return parts.join(", ");
}

/** Per figure: each arm's median (min-max) and, for each arm after the first, its median paired ratio. */
export function summaryTable(arms: readonly string[], rounds: readonly Figures[][]): string {
  const names = [...new Set(rounds.flatMap((round) => round.flatMap((f) => Object.keys(f))))];
  const header = ["figure", ...arms, ...arms.slice(1).map((a) => `${a} / ${arms[0]}`)];
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`];
  for (const name of names) {
    const cells = arms.map((_, a) => {
      const values = rounds.map((round) => round[a]?.[name]).filter((v): v is number => v !== undefined);
      if (values.length === 0) return "";
      const s = spread(values);
      return values.length === 1 ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
    });
    const ratios = arms.slice(1).map((_, i) => {
      const paired = rounds.map((round) => [round[0]?.[name], round[i + 1]?.[name]])
        .filter(([a, b]) => a !== undefined && b !== undefined && a !== 0)
        .map(([a, b]) => b! / a!);
      return paired.length > 0 ? fmt(spread(paired).median) : "";
    });
    lines.push(`| ${name} | ${[...cells, ...ratios].join(" | ")} |`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      rate: { type: "string" },
      connections: { type: "string" },
      requests: { type: "string" },
      wrk: { type: "string" },
      duration: { type: "string", default: "10" },
      rounds: { type: "string", default: "3" },
      bodies: { type: "string", default: "small" },
      "per-second": { type: "boolean", default: false },
      perf: { type: "string" },
      "py-spy": { type: "boolean", default: false },
      "profile-seconds": { type: "string" },
    },
    allowPositionals: true,
  });
  const kinds = [values.rate && "rate", values.connections && "connections", values.wrk && "wrk"].filter(
    Boolean,
  );
  if (kinds.length !== 1 || positionals.length === 0) {
    console.error(
      "Usage: deno run --allow-all bench/probes/alternate.ts (--rate R | --connections C | --wrk SCRIPT)",
    );
    console.error(
      "  [--duration S] [--rounds N] [--bodies small|784] [--per-second] [--perf WHAT] [--py-spy] ARM...",
    );
    Deno.exit(2);
  }
  const perfTarget = values.perf as PerfTarget | undefined;
  if (perfTarget && !["all", "frontend", "core", "container"].includes(perfTarget)) {
    throw new Error(`--perf is all, frontend, core or container, not "${perfTarget}"`);
  }
  const load: Load = {
    kind: kinds[0] as Load["kind"],
    rate: values.rate ? Number(values.rate) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
    requests: values.requests ? Number(values.requests) : undefined,
    script: values.wrk,
    duration_s: Number(values.duration),
    bodies: bodies(values.bodies),
    per_second: values["per-second"],
  };
  const specs = positionals.map(parseArm);
  const profiling = {
    perf: perfTarget,
    py_spy: values["py-spy"],
    seconds: Number(values["profile-seconds"] ?? Math.max(1, Math.floor(load.duration_s / 2))),
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const dir = `${root}bench/results/probe-${stamp}`;
  await Deno.mkdir(dir, { recursive: true });
  Deno.addSignalListener("SIGINT", () => void stopAll().finally(() => Deno.exit(130)));
  console.log(`probe: ${Deno.args.join(" ")} (logs in ${dir.replace(root, "")})`);
  const rounds: Figures[][] = [];
  const commands = new Map<string, readonly string[]>();
  for (let round = 1; round <= Number(values.rounds); round++) {
    const figures: Figures[] = [];
    for (const spec of specs) {
      const run = await measure(spec, load, dir, round, profiling);
      figures.push(run.figures);
      commands.set(spec.name, run.commands);
    }
    rounds.push(figures);
  }
  const arms = specs.map((s) => s.name);
  console.log(`\n${summaryTable(arms, rounds)}\n`);
  for (const [arm, lines] of commands) {
    if (lines.length > 0) console.log(`${arm}:\n    ${lines.join("\n    ")}`);
  }
  await Deno.writeTextFile(
    `${dir}/probe.json`,
    JSON.stringify({ args: Deno.args, arms, rounds }, null, 2) + "\n",
  );
}
