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

function bucketOf(value: number): number {
  if (value < 1) return 0;
  const exponent = Math.floor(Math.log2(value));
  const fraction = value / 2 ** exponent - 1; // in [0, 1)
  return Math.min(BUCKETS - 1, exponent * SUB_BUCKETS + Math.floor(fraction * SUB_BUCKETS) + 1);
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
