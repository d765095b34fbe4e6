/**
 * What a scenario reports: figures summarised over its measured runs (median, min, max), the ceiling
 * measured in the same run, ratios to it, and each target met or missed. Owns the shapes and the summary
 * arithmetic; must not run anything.
 */

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface Target {
  readonly what: string;
  /** The figure compared, as reported. */
  readonly value: number;
  readonly goal: string;
  readonly met: boolean;
}

export interface CurvePoint {
  readonly offered_per_second: number;
  readonly achieved_per_second: number;
  readonly p50_ms: number;
  readonly p90_ms: number;
  readonly p99_ms: number;
}

/**
 * Where a latency curve turns up: the lowest offered rate whose p99 is more than twice the p99 at the
 * curve's lowest rate, as a share of `peak`; 1 when no point is (the curve stays flat up to its end).
 */
export function kneeShare(curve: readonly CurvePoint[], peak: number): number {
  const sorted = [...curve].sort((a, b) => a.offered_per_second - b.offered_per_second);
  const base = sorted[0]?.p99_ms;
  if (base === undefined) return 1;
  const knee = sorted.find((p) => p.p99_ms > 2 * base);
  return knee === undefined ? 1 : knee.offered_per_second / peak;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly description: string;
  /** Command lines that reproduce the measurement. */
  readonly commands: string[];
  readonly figures: Record<string, Spread>;
  readonly targets: Target[];
  /** Other facts worth reading next to the figures (default outputs, batch sizes, memory). */
  readonly notes: Record<string, number | string>;
  /** Latency against offered load, for the plot (open-loop scenarios only). */
  readonly curve?: CurvePoint[];
  /** The bare `Deno.serve` ceiling's latency under the same attacks, drawn beside `curve`. */
  readonly ceiling_curve?: CurvePoint[];
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error("Cannot summarise zero runs");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

export function atLeast(what: string, value: number, goal: number): Target {
  return { what, value, goal: `>= ${goal}`, met: value >= goal };
}

export function atMost(what: string, value: number, goal: number): Target {
  return { what, value, goal: `<= ${goal}`, met: value <= goal };
}
