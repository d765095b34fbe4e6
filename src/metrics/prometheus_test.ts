import assert from "node:assert/strict";
import type { CoreSnapshot } from "../core/core.ts";
import { prometheusText } from "./prometheus.ts";
import { Metrics } from "./registry.ts";

const idle: CoreSnapshot = { replicas: [], counters: {}, queued_queries: 0, inflight_batches: 0, cache: {} };

function lines(text: string, prefix: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(prefix));
}

Deno.test("label values escape backslash, double quote and newline", () => {
  const metrics = new Metrics();
  metrics.app('a\\b"c\nd').requests += 1;
  const text = prometheusText({ metrics, snapshot: idle, state_healthy: true });
  assert.deepEqual(lines(text, "clipper_app_requests_total"), [
    'clipper_app_requests_total{app="a\\\\b\\"c\\nd"} 1',
  ]);
});

Deno.test("every family has HELP and TYPE lines and counters end in _total", () => {
  const metrics = new Metrics();
  metrics.app("shop").requests += 1;
  metrics.model("m:1").predictions += 1;
  const snapshot = { ...idle, counters: { malformed_messages: 2 }, cache: { hits: 3, misses: 4 } };
  const text = prometheusText({ metrics, snapshot, state_healthy: true });
  const types = lines(text, "# TYPE ").map((l) => l.split(" ").slice(2));
  for (const [name, type] of types) {
    assert.ok(lines(text, `# HELP ${name} `).length === 1, `HELP of ${name}`);
    if (type === "counter") assert.ok(name!.endsWith("_total"), name);
  }
  assert.ok(text.includes("\nclipper_core_malformed_messages_total 2\n"));
  assert.ok(text.includes("\nclipper_cache_hits_total 3\n"));
  assert.ok(text.includes("\nclipper_cache_misses_total 4\n"));
  assert.ok(text.includes('\nclipper_model_predictions_total{model="m",version="1"} 1\n'));
  assert.ok(text.endsWith("\n"));
});

Deno.test("latency buckets are cumulative, in seconds, and count a value on a bound in that bound", () => {
  const metrics = new Metrics();
  const latency = metrics.app("shop").latency_micros;
  for (const micros of [8, 12, 1000, 1024, 100e6]) latency.record(micros);
  const text = prometheusText({ metrics, snapshot: idle, state_healthy: true });
  const bucket = (le: string) =>
    lines(text, `clipper_app_request_duration_seconds_bucket{app="shop",le="${le}"} `)[0]?.split(" ")[1];
  assert.equal(bucket("0.000008"), "1");
  assert.equal(bucket("0.000012"), "2");
  assert.equal(bucket("0.000768"), "2");
  assert.equal(bucket("0.001024"), "4");
  assert.equal(bucket("67.108864"), "4");
  assert.equal(bucket("+Inf"), "5");
  assert.ok(text.includes('\nclipper_app_request_duration_seconds_count{app="shop"} 5\n'));
  assert.ok(
    text.includes(
      `\nclipper_app_request_duration_seconds_sum{app="shop"} ${(8 + 12 + 1000 + 1024 + 100e6) / 1e6}\n`,
    ),
  );
  const les = lines(text, 'clipper_app_request_duration_seconds_bucket{app="shop"').map((l) =>
    Number(l.match(/le="([^"]+)"/)![1]!.replace("+Inf", "Infinity"))
  );
  assert.deepEqual(les, [...les].sort((a, b) => a - b));
});

Deno.test("replicas are counted per model version", () => {
  const replica = {
    model_name: "m",
    model_version: "2",
    model_replica_id: 0,
    zmq_connection_id: 1,
    input_type: "doubles",
    connected_at_ms: 0,
    last_seen_ms: 0,
    busy: false,
    batches_completed: 0,
  };
  const snapshot = { ...idle, replicas: [replica, { ...replica, model_replica_id: 1 }] };
  const text = prometheusText({ metrics: new Metrics(), snapshot, state_healthy: false });
  assert.deepEqual(lines(text, "clipper_replicas_connected{"), [
    'clipper_replicas_connected{model="m",version="2"} 2',
  ]);
  assert.deepEqual(lines(text, "clipper_state_store_up "), ["clipper_state_store_up 0"]);
});
