import assert from "node:assert/strict";
import { Histogram } from "./histogram.ts";

Deno.test("percentiles are within the bucket precision and never above the maximum", () => {
  const h = new Histogram();
  for (let v = 1; v <= 1000; v++) h.record(v);
  const s = h.summary();
  assert.equal(s.count, 1000);
  assert.equal(s.mean, 500.5);
  assert.ok(s.p50 >= 500 && s.p50 <= 500 * 1.13, `p50 ${s.p50}`);
  assert.ok(s.p99 >= 990 && s.p99 <= 1000, `p99 ${s.p99}`);
  assert.equal(s.max, 1000);
});

Deno.test("an empty histogram reports zeros", () => {
  assert.deepEqual(new Histogram().summary(), { count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 });
});

Deno.test("counts merged from the native query port read as if recorded here", () => {
  // Buckets of 3 and 1000 as native/core/src/http/metrics.rs computes them (its test pins the same ones).
  const merged = new Histogram();
  merged.merge({ buckets: [[12, 1], [80, 1]], count: 2, sum: 1003, max: 1000 });
  const recorded = new Histogram();
  recorded.record(3);
  recorded.record(1000);
  assert.deepEqual(merged.summary(), recorded.summary());
  merged.merge({ buckets: [], count: 0, sum: 0, max: 0 });
  assert.deepEqual(merged.summary(), recorded.summary());
});

Deno.test("cumulative counts include the values on a bound and none above it", () => {
  const h = new Histogram();
  for (const v of [0.5, 1, 2, 2.1, 3, 1000, 1024]) h.record(v);
  assert.deepEqual(h.cumulative([1, 2, 3, 960, 1024, 2048]), [2, 3, 5, 5, 7, 7]);
  assert.equal(h.count, 7);
  assert.equal(h.sum, 0.5 + 1 + 2 + 2.1 + 3 + 1000 + 1024);
});
