/**
 * Each second of an oha attack, from the per-request results it stores with `--db-url` (oha 1.16: a table
 * `oha` of start, start_latency_correction, end and duration in seconds from the attack's start, successes
 * only): the requests due in that second, their p99 latency (counted from when each was due, as the
 * report's), the p99 of the time a request waited inside oha before it was sent, and which power-of-two
 * result fell in it. oha keeps every result in one growing array, and each doubling stalls the generator:
 * that is how the soak's 193 ms p99 was found to be oha's (bench/HISTORY.md). Owns the arithmetic and the
 * read of the database; must not run oha.
 */

import { DatabaseSync } from "node:sqlite";

export interface OhaRow {
  /** When oha sent the request, seconds from the attack's start. */
  readonly start: number;
  /** When the request was due (latency correction); absent without `--latency-correction`. */
  readonly due: number | null;
  readonly end: number;
}

export interface Second {
  readonly second: number;
  readonly requests: number;
  readonly p99_ms: number;
  /** p99 of sent minus due: time spent waiting inside oha. */
  readonly wait_p99_ms: number;
  /** The powers of two (as exponents) whose result, counted in order of completion, ended in this second. */
  readonly doublings: number[];
}

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
}

/** Groups `rows` by the second each request was due (or sent, without correction). */
export function perSecond(rows: readonly OhaRow[]): Second[] {
  const seconds = new Map<number, { latency: number[]; wait: number[]; doublings: number[] }>();
  const at = (s: number) => {
    let entry = seconds.get(s);
    if (!entry) seconds.set(s, entry = { latency: [], wait: [], doublings: [] });
    return entry;
  };
  for (const row of rows) {
    const due = row.due ?? row.start;
    const entry = at(Math.floor(due));
    entry.latency.push((row.end - due) * 1e3);
    entry.wait.push((row.start - due) * 1e3);
  }
  const ends = rows.map((r) => r.end).sort((a, b) => a - b);
  for (let k = 0; 2 ** k <= ends.length; k++) at(Math.floor(ends[2 ** k - 1]!)).doublings.push(k);
  return [...seconds.entries()].sort(([a], [b]) => a - b).map(([second, e]) => ({
    second,
    requests: e.latency.length,
    p99_ms: p99(e.latency),
    wait_p99_ms: p99(e.wait),
    doublings: e.doublings,
  }));
}

export function readOhaDb(path: string): OhaRow[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT start, start_latency_correction AS due, end FROM oha")
      .all() as unknown as OhaRow[];
  } finally {
    db.close();
  }
}

/** The table the probe prints: one line a second, the doublings of 2^10 and up named. */
export function formatSeconds(seconds: readonly Second[]): string {
  const lines = ["  second  requests  p99 ms  waited in oha p99 ms  results passed"];
  for (const s of seconds) {
    const passed = s.doublings.filter((k) => k >= 10).map((k) => `2^${k}`).join(" ");
    lines.push(
      `  ${String(s.second).padStart(6)}  ${String(s.requests).padStart(8)}  ${
        s.p99_ms.toFixed(2).padStart(6)
      }` +
        `  ${s.wait_p99_ms.toFixed(2).padStart(20)}  ${passed}`,
    );
  }
  return lines.join("\n");
}
