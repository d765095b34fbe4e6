/**
 * A latency histogram with log-linear buckets: constant memory, O(1) inserts on the hot path, percentiles
 * within about 9 % (8 sub-buckets per power of two). Owns only the numbers; naming and reporting belong to
 * the metrics registry.
 */

const SUB_BUCKETS = 8;
const BUCKETS = 64 * SUB_BUCKETS;

export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Buckets hold (lower, upper]: a value on an edge counts in the bucket below it, so a bucket's upper edge
 * reads as Prometheus's `le` bound. native/core/src/http/metrics.rs computes the same.
 */
function bucketOf(value: number): number {
  if (value <= 1) return 0;
  const exponent = Math.floor(Math.log2(value));
  const fraction = value / 2 ** exponent - 1; // in [0, 1); 0 puts a power of two atop the octave below
  return Math.min(BUCKETS - 1, exponent * SUB_BUCKETS + Math.ceil(fraction * SUB_BUCKETS));
}

/** The upper edge of a bucket, reported as the percentile value (never under-reports latency). */
function upperEdge(bucket: number): number {
  if (bucket === 0) return 1;
  const exponent = Math.floor((bucket - 1) / SUB_BUCKETS);
  const sub = (bucket - 1) % SUB_BUCKETS;
  return 2 ** exponent * (1 + (sub + 1) / SUB_BUCKETS);
}

/** A histogram's raw counts (empty buckets left out), as another recorder hands them over. */
export interface HistogramCounts {
  readonly buckets: readonly (readonly [number, number])[];
  readonly count: number;
  readonly sum: number;
  readonly max: number;
}

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  record(value: number): void {
    this.#counts[bucketOf(value)]! += 1;
    this.#count += 1;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
  }

  /** Adds counts recorded elsewhere with the same buckets (the native query port's). */
  merge(other: HistogramCounts): void {
    for (const [bucket, n] of other.buckets) this.#counts[Math.min(bucket, BUCKETS - 1)]! += n;
    this.#count += other.count;
    this.#sum += other.sum;
    if (other.max > this.#max) this.#max = other.max;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /**
   * How many values were at or below each of `bounds` (ascending). Exact when each bound is a bucket edge:
   * a power of two times 1, 1.125, ... or 1.875; otherwise it counts the values up to the edge below.
   */
  cumulative(bounds: readonly number[]): number[] {
    const out: number[] = [];
    let seen = 0;
    let b = 0;
    for (const bound of bounds) {
      for (; b < BUCKETS && upperEdge(b) <= bound; b++) seen += this.#counts[b]!;
      out.push(seen);
    }
    return out;
  }

  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.#count);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return Math.min(upperEdge(b), this.#max);
    }
    return this.#max;
  }

  summary(): Summary {
    return {
      count: this.#count,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      max: this.#max,
    };
  }
}
