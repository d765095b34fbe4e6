/**
 * `deno task faults [--duration-millis N] [scenario...]`: runs each fault scenario under load on loopback,
 * one after another, prints the table and (when every scenario ran) writes it to bench/results/faults.md.
 * Owns the run order and the output file; the scenarios are in bench/faults/*.ts. The counting rules are
 * in lib.ts's doc.
 */

import { stopAll } from "../lib/processes.ts";
import type { Row } from "./lib.ts";
import { SCENARIOS } from "./scenarios.ts";
import { formatTable } from "./table.ts";

const root = new URL("../..", import.meta.url).pathname;

export async function runFaults(names: readonly string[], duration_millis: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const name of names) {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`No scenario "${name}"; known: ${Object.keys(SCENARIOS).join(", ")}`);
    const log_dir = await Deno.makeTempDir({ prefix: `clipper-faults-${name}-` });
    try {
      rows.push(await scenario({ duration_millis, log_dir }));
    } finally {
      await stopAll();
    }
  }
  return rows;
}

if (import.meta.main) {
  const args = [...Deno.args];
  let duration_millis = 6000;
  const flag = args.indexOf("--duration-millis");
  if (flag >= 0) {
    duration_millis = Number(args[flag + 1]);
    args.splice(flag, 2);
  }
  const names = args.length ? args : Object.keys(SCENARIOS);
  const rows = await runFaults(names, duration_millis);
  const table = formatTable(rows);
  console.log(table);
  // Only a run of every scenario replaces the recorded table.
  if (names.length === Object.keys(SCENARIOS).length) {
    await Deno.mkdir(`${root}bench/results`, { recursive: true });
    const title = `# Faults (\`deno task faults\`, ${duration_millis} ms of load per scenario, ${
      new Date().toISOString()
    })`;
    await Deno.writeTextFile(`${root}bench/results/faults.md`, `${title}\n\n${table}`);
  }
}
