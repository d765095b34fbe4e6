/**
 * `deno task bench [scenario...] [--smoke] [--reference]`: runs the named scenarios (model, cache,
 * openloop, batching and peers when none is named), each starting and stopping its own processes, and writes the results under
 * bench/results/<UTC time>/. `--reference` also rewrites bench/results/README.md with this run.
 *
 * Scenarios: model, cache, openloop, batching, peers, soak, native.
 */

import { parseArgs } from "node:util";
import { writeResults } from "./lib/report.ts";
import type { ScenarioResult } from "./lib/result.ts";
import { stopAll } from "./lib/processes.ts";
import { batching, batchingCostly } from "./scenarios/batching.ts";
import { cache, model } from "./scenarios/closed_loop.ts";
import type { Context } from "./scenarios/context.ts";
import { native } from "./scenarios/native.ts";
import { openloop, soak } from "./scenarios/open_loop.ts";
import { peers } from "./scenarios/peers.ts";
import { selection } from "./scenarios/selection.ts";
import { ensureOrExit } from "../scripts/setup.ts";

export const SCENARIOS: Record<string, (ctx: Context) => Promise<ScenarioResult>> = {
  model,
  cache,
  openloop,
  batching,
  batching_costly: batchingCostly,
  soak,
  native,
  peers,
  selection,
};
const DEFAULT = ["model", "cache", "openloop", "batching", "batching_costly", "peers", "selection"];

const root = new URL("..", import.meta.url).pathname;

/** The run lengths: the real ones, or one second of everything for the smoke test. */
export function contextFor(smoke: boolean, log_dir: string): Context {
  return smoke
    ? { duration_s: 1, warmup_s: 0, runs: 1, soak_s: 1, log_dir, smoke }
    : { duration_s: 10, warmup_s: 3, runs: 3, soak_s: 300, log_dir, smoke };
}

export async function runScenarios(names: readonly string[], ctx: Context): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (!scenario) {
      throw new Error(`Unknown scenario "${name}": use one of ${Object.keys(SCENARIOS).join(", ")}`);
    }
    console.error(`bench: running ${name}`);
    results.push(await scenario(ctx));
  }
  return results;
}

async function machine(): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  return `${navigator.hardwareConcurrency} cores (${cpu}), Deno ${Deno.version.deno}`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { smoke: { type: "boolean" }, reference: { type: "boolean" } },
    allowPositionals: true,
  });
  const names = positionals.length > 0 ? positionals : DEFAULT;
  // Before any server starts: a machine that cannot get the tools stops here with what to install.
  await ensureOrExit(["bench"]);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const dir = `${root}bench/results/${stamp}`;
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  const ctx = contextFor(values.smoke ?? false, `${dir}/logs`);
  const stopOnSignal = () => void stopAll().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", stopOnSignal);
  try {
    const results = await runScenarios(names, ctx);
    const command = `deno task bench ${Deno.args.join(" ")}`.trim();
    const header =
      `# Clipper benchmark run ${stamp}\n\nMachine: ${await machine()}. Command: \`${command}\`.`;
    const written = await writeResults(dir, results, header);
    console.log(written.map((f) => f.replace(root, "")).join("\n"));
    if (values.reference) {
      const readme = await Deno.readTextFile(`${root}bench/results/README.md`);
      const marker = "<!-- reference run -->";
      const at = readme.indexOf(marker);
      if (at < 0) throw new Error(`bench/results/README.md has no "${marker}" line`);
      const body = await Deno.readTextFile(`${dir}/results.md`);
      await Deno.writeTextFile(
        `${root}bench/results/README.md`,
        `${readme.slice(0, at + marker.length)}\n\n${body.replace(/^# .*\n/, "")}`,
      );
      if (written.some((f) => f.endsWith(".png"))) {
        await Deno.copyFile(`${dir}/latency.png`, `${root}bench/results/latency.png`);
      }
    }
    const missed = results.flatMap((r) =>
      r.targets.filter((t) => !t.met).map((t) => `${r.scenario}: ${t.what}`)
    );
    if (missed.length > 0) console.log(`Targets missed:\n  ${missed.join("\n  ")}`);
  } finally {
    await stopAll();
  }
}
