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
