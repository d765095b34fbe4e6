/**
 * The criterion micro-benchmarks of the native core (codec, queue, batch former, cache, engine round trip),
 * run with `cargo bench` and read from criterion's report. No ceiling applies: these never touch HTTP.
 */

import { type ScenarioResult, type Spread } from "../lib/result.ts";
import type { Context } from "./context.ts";

const root = new URL("../..", import.meta.url).pathname;

const NANOS: Record<string, number> = { ps: 1e-3, ns: 1, "µs": 1e3, us: 1e3, ms: 1e6, s: 1e9 };

/** Reads `name\n   time: [low unit mid unit high unit]` blocks from criterion's output, in nanoseconds. */
export function parseCriterion(output: string): Record<string, Spread> {
  const figures: Record<string, Spread> = {};
  const re = /^(\S+)\s*\n?\s+time:\s+\[([\d.]+) (\S+) ([\d.]+) (\S+) ([\d.]+) (\S+)\]/gm;
  for (const m of output.matchAll(re)) {
    const ns = (v: string, unit: string) => {
      const scale = NANOS[unit];
      if (scale === undefined) throw new Error(`Unknown criterion time unit "${unit}"`);
      return Number(v) * scale;
    };
    figures[`${m[1]}_ns`] = { min: ns(m[2]!, m[3]!), median: ns(m[4]!, m[5]!), max: ns(m[6]!, m[7]!) };
  }
  if (Object.keys(figures).length === 0) {
    throw new Error(`No criterion results in:\n${output.slice(0, 2000)}`);
  }
  return figures;
}

export async function native(ctx: Context): Promise<ScenarioResult> {
  const timing = ctx.smoke
    ? ["--warm-up-time", "0.1", "--measurement-time", "0.1", "--sample-size", "10"]
    : ["--warm-up-time", "1", "--measurement-time", "3"];
  const args = [
    "bench",
    "--quiet",
    "--manifest-path",
    `${root}native/Cargo.toml`,
    "--bench",
    "hot_path",
    "--",
    ...timing,
  ];
  const out = await new Deno.Command("cargo", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`cargo bench failed:\n${new TextDecoder().decode(out.stderr)}`);
  return {
    scenario: "native",
    description:
      "Criterion micro-benchmarks of the native core; figures are nanoseconds per iteration (criterion's interval)",
    commands: [`cargo ${args.join(" ").replace(root, "")}`],
    figures: parseCriterion(text),
    targets: [],
    notes: {},
  };
}
