/**
 * Serving metrics: counters and latency histograms per application and per model version, reported as
 * JSON by `GET /metrics` (and as Prometheus text by ./prometheus.ts). Owns the names and shape of the
 * report; must not time anything itself (callers pass durations), so it stays free of clocks.
 */

import { Histogram, type HistogramCounts } from "./histogram.ts";

/** Counts recorded elsewhere (the native query port) since the last hand-over, in this registry's names. */
export interface MetricsDelta {
  readonly apps: Readonly<
    Record<string, {
      readonly requests: number;
      readonly predictions: number;
      readonly default_outputs: number;
      readonly latency_micros: HistogramCounts;
    }>
  >;
  readonly models: Readonly<
    Record<string, {
      readonly predictions: number;
      readonly cache_hits: number;
      readonly errors: number;
      readonly latency_micros: HistogramCounts;
      readonly batch_size: HistogramCounts;
      readonly queue_micros: HistogramCounts;
    }>
  >;
}

export class AppMetrics {
  requests = 0;
  predictions = 0;
  default_outputs = 0;
  rejected_requests = 0;
  feedback = 0;
  readonly latency_micros = new Histogram();

  toJSON() {
    return {
      requests: this.requests,
      predictions: this.predictions,
      default_outputs: this.default_outputs,
      rejected_requests: this.rejected_requests,
      feedback: this.feedback,
      latency_micros: this.latency_micros.summary(),
    };
  }
}

export class ModelMetrics {
  /** Answers the model computed. */
  predictions = 0;
  /** Answers the prediction cache gave instead. */
  cache_hits = 0;
  errors = 0;
  readonly latency_micros = new Histogram();
  readonly batch_size = new Histogram();
  /** From submission to the query's batch being sent. */
  readonly queue_micros = new Histogram();

  toJSON() {
    return {
      predictions: this.predictions,
      cache_hits: this.cache_hits,
      errors: this.errors,
      latency_micros: this.latency_micros.summary(),
      batch_size: this.batch_size.summary(),
      queue_micros: this.queue_micros.summary(),
    };
  }
}

export class Metrics {
  readonly #apps = new Map<string, AppMetrics>();
  readonly #models = new Map<string, ModelMetrics>();

  app(name: string): AppMetrics {
    let m = this.#apps.get(name);
    if (!m) this.#apps.set(name, m = new AppMetrics());
    return m;
  }

  /** Metrics of the model version `label` (`name:version`). */
  model(label: string): ModelMetrics {
    let m = this.#models.get(label);
    if (!m) this.#models.set(label, m = new ModelMetrics());
    return m;
  }

  /** Drops the metrics of applications not in `names` (deleted apps leave no trace). */
  retainApps(names: ReadonlySet<string>): void {
    for (const name of this.#apps.keys()) if (!names.has(name)) this.#apps.delete(name);
  }

  /** Adds counts recorded elsewhere; those of apps `isApp` denies (deleted meanwhile) are dropped. */
  absorb(delta: MetricsDelta, isApp: (name: string) => boolean): void {
    for (const [name, d] of Object.entries(delta.apps)) {
      if (!isApp(name)) continue;
      const m = this.app(name);
      m.requests += d.requests;
      m.predictions += d.predictions;
      m.default_outputs += d.default_outputs;
      m.latency_micros.merge(d.latency_micros);
    }
    for (const [label, d] of Object.entries(delta.models)) {
      const m = this.model(label);
      m.predictions += d.predictions;
      m.cache_hits += d.cache_hits;
      m.errors += d.errors;
      m.latency_micros.merge(d.latency_micros);
      m.batch_size.merge(d.batch_size);
      m.queue_micros.merge(d.queue_micros);
    }
  }

  /** Every application's and model version's metrics, for exposition formats other than `report`. */
  entries(): { apps: ReadonlyMap<string, AppMetrics>; models: ReadonlyMap<string, ModelMetrics> } {
    return { apps: this.#apps, models: this.#models };
  }

  report(): { apps: Record<string, unknown>; models: Record<string, unknown> } {
    return {
      apps: Object.fromEntries([...this.#apps].map(([k, v]) => [k, v.toJSON()])),
      models: Object.fromEntries([...this.#models].map(([k, v]) => [k, v.toJSON()])),
    };
  }
}
