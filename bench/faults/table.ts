/**
 * The fault table: one Markdown row per scenario, and which targets a row misses: 0 lost (every query
 * answered by its deadline + 50 ms), 0 answered twice, 0 acknowledged writes lost, and no more defaults
 * than the queries the fault put at risk where a scenario says how many. The time to recover is
 * reported, not a target. Owns formatting only; must not run anything.
 */

import type { Row } from "./lib.ts";

/** The targets a row misses, in words; empty when it meets them all. */
export function misses(r: Row): string[] {
  const missed: string[] = [];
  if (r.lost > 0) missed.push("lost queries");
  if (r.answered_twice > 0) missed.push("answered twice");
  if (r.writes_lost > 0) missed.push("acknowledged writes lost");
  if (r.answered_by_default > (r.defaults_allowed ?? Infinity)) {
    missed.push("more defaults than the fault put at risk");
  }
  return missed;
}

export function formatTable(rows: readonly Row[]): string {
  const header = [
    "scenario",
    "queries sent",
    "answered by a model",
    "answered by default",
    "lost",
    "answered twice",
    "config writes acknowledged",
    "config writes lost",
    "time to recover",
    "targets",
  ];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const r of rows) {
    const missed = misses(r);
    lines.push(
      `| ${
        [
          r.scenario,
          r.queries_sent,
          r.answered_by_model,
          r.answered_by_default,
          r.lost,
          r.answered_twice,
          r.writes_acknowledged,
          r.writes_lost,
          r.recover_millis === null ? "never" : `${Math.round(r.recover_millis)} ms`,
          missed.length === 0 ? "met" : `**MISSED: ${missed.join(", ")}**`,
        ].join(" | ")
      } |`,
    );
  }
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.scenario}: ${r.note}`);
  return [...lines, ...(notes.length ? ["", ...notes] : [])].join("\n") + "\n";
}
