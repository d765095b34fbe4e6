import assert from "node:assert/strict";
import { Metrics } from "./registry.ts";

Deno.test("metrics of deleted applications are dropped and the others kept", () => {
  const m = new Metrics();
  m.app("shop").requests += 2;
  m.app("gone").requests += 1;
  m.retainApps(new Set(["shop"]));
  assert.deepEqual(Object.keys(m.report().apps), ["shop"]);
  assert.equal((m.report().apps.shop as { requests: number }).requests, 2);
});

Deno.test("counts absorbed from elsewhere add to the ones recorded here, except for deleted apps", () => {
  const m = new Metrics();
  m.app("shop").requests += 1;
  const none = { buckets: [], count: 0, sum: 0, max: 0 };
  const one = { buckets: [[1, 1]] as [number, number][], count: 1, sum: 1, max: 1 };
  m.absorb({
    apps: {
      shop: { requests: 2, predictions: 3, default_outputs: 1, latency_micros: one },
      gone: { requests: 1, predictions: 1, default_outputs: 0, latency_micros: one },
    },
    models: {
      "m:1": {
        predictions: 2,
        cache_hits: 1,
        errors: 0,
        latency_micros: none,
        batch_size: one,
        queue_micros: one,
      },
    },
  }, (name) => name !== "gone");
  const report = m.report() as {
    apps: Record<string, { requests: number; predictions: number; latency_micros: { count: number } }>;
    models: Record<
      string,
      { cache_hits: number; batch_size: { count: number }; queue_micros: { count: number } }
    >;
  };
  assert.deepEqual(Object.keys(report.apps), ["shop"]);
  assert.equal(report.apps.shop?.requests, 3);
  assert.equal(report.apps.shop?.predictions, 3);
  assert.equal(report.apps.shop?.latency_micros.count, 1);
  assert.equal(report.models["m:1"]?.cache_hits, 1);
  assert.equal(report.models["m:1"]?.batch_size.count, 1);
  assert.equal(report.models["m:1"]?.queue_micros.count, 1);
});
