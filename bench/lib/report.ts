/**
 * Writes a run's results: `results.json`, `results.md` (one table per scenario, targets met or missed),
 * and `latency.png` (latency percentiles against offered load, drawn by bench/plot.py with matplotlib)
 * when a scenario has a curve. Must not run load.
 */

import type { ScenarioResult, Spread } from "./result.ts";

const root = new URL("../..", import.meta.url).pathname;

/** A figure as the reports print it: integers whole, three significant digits or two decimals otherwise. */
export function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

function row(name: string, s: Spread): string {
  return `| ${name} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} |`;
}

export function markdown(results: readonly ScenarioResult[], header: string): string {
  const out = [header, ""];
  for (const r of results) {
    out.push(`## ${r.scenario}`, "", r.description, "");
    out.push("| figure | median | min | max |", "| --- | --- | --- | --- |");
    for (const [name, s] of Object.entries(r.figures)) out.push(row(name, s));
    if (r.targets.length > 0) {
      out.push("", "| target | value | goal | result |", "| --- | --- | --- | --- |");
      for (const t of r.targets) {
        out.push(`| ${t.what} | ${fmt(t.value)} | ${t.goal} | ${t.met ? "met" : "**missed**"} |`);
      }
    }
    const notes = Object.entries(r.notes);
    if (notes.length > 0) {
      out.push(
        "",
        notes.map(([k, v]) => `${k}: ${typeof v === "number" ? fmt(v) : v}`).join("; "),
      );
    }
    out.push("", "Commands:", "", ...r.commands.map((c) => `    ${c}`), "");
  }
  return out.join("\n");
}

/** Draws the open-loop curves into `png_path`; false when no scenario has one. */
export async function plot(results: readonly ScenarioResult[], png_path: string): Promise<boolean> {
  const curves = results.filter((r) => r.curve && r.curve.length > 0).map((r) => ({
    scenario: r.scenario,
    curve: r.curve,
    ceiling_curve: r.ceiling_curve ?? [],
  }));
  if (curves.length === 0) return false;
  const out = await new Deno.Command(`${root}.venv/bin/python`, {
    args: [`${root}bench/plot.py`, png_path],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(curves)));
  await writer.close();
  const done = await out.output();
  if (!done.success) throw new Error(`Plotting failed: ${new TextDecoder().decode(done.stderr)}`);
  return true;
}

/** Writes the three files under `dir`. */
export async function writeResults(
  dir: string,
  results: readonly ScenarioResult[],
  header: string,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const written = [`${dir}/results.json`, `${dir}/results.md`];
  await Deno.writeTextFile(written[0]!, JSON.stringify({ header, results }, null, 2) + "\n");
  await Deno.writeTextFile(written[1]!, markdown(results, header));
  if (await plot(results, `${dir}/latency.png`)) written.push(`${dir}/latency.png`);
  return written;
}
