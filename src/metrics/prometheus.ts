/**
 * Prometheus text exposition (format 0.0.4) of the serving metrics and the core's counters, served by
 * `GET /metrics/prometheus` and by `Accept` negotiation on `GET /metrics`. Owns the metric names, labels
 * and the text format; reads the registry and a core snapshot and changes neither. The core counter, replica
 * and queue metrics are as of the core's last snapshot (at most 250 ms old).
 *
 * Hand-written rather than prom-client: prom-client's histograms take single observations into buckets of
 * their own, while these are merged from counts the core recorded (src/metrics/histogram.ts's buckets), so
 * they could only be replayed into it; the text format itself is a few lines.
 */

import type { CoreSnapshot } from "../core/core.ts";
import type { Histogram } from "./histogram.ts";
import type { Metrics } from "./registry.ts";

/** What the exposition reads: the registry (core counts already absorbed) and the core's last snapshot. */
export interface PrometheusSources {
  readonly metrics: Metrics;
  readonly snapshot: CoreSnapshot;
  readonly state_healthy: boolean;
}

type Labels = Readonly<Record<string, string>>;

/** Bucket edges (see Histogram.cumulative): each power of two and 1.5 times it, from 2^lo to 2^hi. */
function edges(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = lo; e < hi; e++) out.push(2 ** e, 1.5 * 2 ** e);
  out.push(2 ** hi);
  return out;
}

/** 8 µs to 67 s, in the histograms' microseconds. */
const LATENCY_EDGES_MICROS = edges(3, 26);
/** 1 to 1024 queries. */
const BATCH_EDGES = edges(0, 10);

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatNumber(value)}`;
}

class Exposition {
  readonly #lines: string[] = [];

  family<T>(
    name: string,
    type: "counter" | "gauge",
    help: string,
    rows: Iterable<readonly [Labels, T]>,
    value: (row: T) => number,
  ): void {
    this.#head(name, type, help);
    for (const [labels, row] of rows) this.#lines.push(sample(name, labels, value(row)));
  }

  /** A histogram family; `scale` turns the histogram's unit into the exposed one (microseconds to seconds). */
  histogram<T>(
    name: string,
    help: string,
    rows: Iterable<readonly [Labels, T]>,
    histogram: (row: T) => Histogram,
    edges: readonly number[],
    scale: number,
  ): void {
    this.#head(name, "histogram", help);
    for (const [labels, row] of rows) {
      const h = histogram(row);
      const cumulative = h.cumulative(edges);
      edges.forEach((edge, i) => {
        this.#lines.push(
          sample(`${name}_bucket`, { ...labels, le: formatNumber(edge / scale) }, cumulative[i]!),
        );
      });
      this.#lines.push(sample(`${name}_bucket`, { ...labels, le: "+Inf" }, h.count));
      this.#lines.push(sample(`${name}_sum`, labels, h.sum / scale));
      this.#lines.push(sample(`${name}_count`, labels, h.count));
    }
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }

  #head(name: string, type: string, help: string): void {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }
}

/** `name:version` as separate labels (model names cannot hold a colon). */
function modelLabels(label: string): Labels {
  const colon = label.indexOf(":");
  return colon < 0
    ? { model: label, version: "" }
    : { model: label.slice(0, colon), version: label.slice(colon + 1) };
}

const CORE_COUNTER_HELP: Readonly<Record<string, string>> = {
  malformed_messages: "Messages from model containers that did not parse and were dropped.",
  refused_containers:
    "Model containers refused at connection (another RPC version, or an input type the model does not take).",
  unknown_responses: "Container responses for batches the core was not waiting for.",
  batches_sent: "Batches sent to model containers.",
  replicas_lost: "Model container connections lost.",
  queries_requeued: "Queries put back in their queue after the replica serving them was lost.",
  queries_coalesced: "Queries answered by the model call of an identical query (same version, same input).",
  queries_defaulted_on_replica_loss:
    "Queries of a lost replica's batch answered with their default at once, no other replica being able to answer them in time.",
};

const CACHE_COUNTERS: readonly (readonly [string, string])[] = [
  ["hits", "Predictions the prediction cache answered."],
  ["misses", "Predictions the prediction cache did not hold."],
  ["evictions", "Prediction cache entries evicted to make room."],
];

const CACHE_GAUGES: readonly (readonly [string, string, string])[] = [
  ["entries", "clipper_cache_entries", "Entries in the prediction cache."],
  ["bytes", "clipper_cache_size_bytes", "Bytes the prediction cache holds."],
  ["capacity_bytes", "clipper_cache_capacity_bytes", "Bytes the prediction cache may hold."],
];

/** The Prometheus text exposition of `sources`. */
export function prometheusText(sources: PrometheusSources): string {
  const { apps, models } = sources.metrics.entries();
  const { snapshot } = sources;
  const out = new Exposition();

  const appRows = [...apps].map(([name, m]) => [{ app: name }, m] as const);
  out.family(
    "clipper_app_requests_total",
    "counter",
    "Prediction requests received.",
    appRows,
    (m) => m.requests,
  );
  out.family(
    "clipper_app_predictions_total",
    "counter",
    "Predictions answered.",
    appRows,
    (m) => m.predictions,
  );
  out.family(
    "clipper_app_default_outputs_total",
    "counter",
    "Predictions answered with the application's default output.",
    appRows,
    (m) => m.default_outputs,
  );
  out.family(
    "clipper_app_rejected_requests_total",
    "counter",
    "Prediction requests rejected before a model ran.",
    appRows,
    (m) => m.rejected_requests,
  );
  out.family(
    "clipper_app_feedback_total",
    "counter",
    "Feedback requests accepted.",
    appRows,
    (m) => m.feedback,
  );
  out.histogram(
    "clipper_app_request_duration_seconds",
    "End-to-end latency of prediction requests, from arrival to answer.",
    appRows,
    (m) => m.latency_micros,
    LATENCY_EDGES_MICROS,
    1e6,
  );

  const modelRows = [...models].map(([label, m]) => [modelLabels(label), m] as const);
  out.family(
    "clipper_model_predictions_total",
    "counter",
    "Predictions the model computed.",
    modelRows,
    (m) => m.predictions,
  );
  out.family(
    "clipper_model_cache_hits_total",
    "counter",
    "Predictions for the model that the prediction cache answered.",
    modelRows,
    (m) => m.cache_hits,
  );
  out.family(
    "clipper_model_errors_total",
    "counter",
    "Queries the model failed.",
    modelRows,
    (m) => m.errors,
  );
  out.histogram(
    "clipper_model_round_trip_seconds",
    "Container round trip of the batch that answered a query, from sending the batch to its reply.",
    modelRows,
    (m) => m.latency_micros,
    LATENCY_EDGES_MICROS,
    1e6,
  );
  out.histogram(
    "clipper_model_queue_seconds",
    "Time a query waited before its batch was sent, from its submission to the serving core.",
    modelRows,
    (m) => m.queue_micros,
    LATENCY_EDGES_MICROS,
    1e6,
  );
  out.histogram(
    "clipper_model_batch_size",
    "Queries in the batch that answered a query.",
    modelRows,
    (m) => m.batch_size,
    BATCH_EDGES,
    1,
  );

  const none: Labels = {};
  for (const [key, help] of CACHE_COUNTERS) {
    out.family(`clipper_cache_${key}_total`, "counter", help, [[none, snapshot.cache[key] ?? 0]], (v) => v);
  }
  for (const [key, name, help] of CACHE_GAUGES) {
    out.family(name, "gauge", help, [[none, snapshot.cache[key] ?? 0]], (v) => v);
  }
  for (const [key, value] of Object.entries(snapshot.counters)) {
    const help = CORE_COUNTER_HELP[key] ?? `The serving core's ${key} counter.`;
    out.family(`clipper_core_${key}_total`, "counter", help, [[none, value]], (v) => v);
  }

  const replicas = new Map<string, number>();
  for (const r of snapshot.replicas) {
    const label = `${r.model_name}:${r.model_version}`;
    replicas.set(label, (replicas.get(label) ?? 0) + 1);
  }
  out.family(
    "clipper_replicas_connected",
    "gauge",
    "Model container replicas connected, per model version.",
    [...replicas].map(([label, n]) => [modelLabels(label), n] as const),
    (n) => n,
  );
  out.family("clipper_queued_queries", "gauge", "Queries waiting in the core's queues.", [[
    none,
    snapshot.queued_queries,
  ]], (v) => v);
  out.family("clipper_inflight_batches", "gauge", "Batches sent and not yet answered.", [[
    none,
    snapshot.inflight_batches,
  ]], (v) => v);
  out.family("clipper_state_store_up", "gauge", "1 when the state store answers, 0 when it does not.", [[
    none,
    sources.state_healthy ? 1 : 0,
  ]], (v) => v);
  return out.text();
}
