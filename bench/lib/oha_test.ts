import assert from "node:assert/strict";
import { ohaArgs, parseOha } from "./oha.ts";

// The fields the parser reads, as oha 1.16 writes them (latencies in seconds).
const report = (statuses: Record<string, number>, errors: Record<string, number>) =>
  JSON.stringify({
    summary: { successRate: 1.0, requestsPerSec: 10997.04 },
    latencyPercentiles: { p10: 0.0008, p50: 0.0014, p90: 0.004, p99: 0.0125, "p99.9": 0.018 },
    statusCodeDistribution: statuses,
    errorDistribution: errors,
  });

Deno.test("an oha report gives its rate and percentiles in milliseconds", () => {
  const figures = parseOha(report({ "200": 109992 }, {}), 11000);
  assert.equal(figures.offered_per_second, 11000);
  assert.equal(figures.requests_per_second, 10997.04);
  assert.equal(figures.p50_ms, 1.4);
  assert.equal(figures.p90_ms, 4);
  assert.equal(figures.p99_ms, 12.5);
  assert.equal(figures.requests, 109992);
  assert.equal(figures.errors, 0);
});

Deno.test("non-2xx answers and socket errors both count as errors", () => {
  const figures = parseOha(report({ "200": 90, "503": 7 }, { "connection refused": 3 }), 100);
  assert.equal(figures.requests, 100);
  assert.equal(figures.errors, 10);
});

Deno.test("text that is not an oha report is refused quoting it", () => {
  assert.throws(() => parseOha('{"latencies": {}}', 1), /Not an oha JSON report: \{"latencies"/);
});

Deno.test("the attack is open loop at the given rate with latency counted from when a request was due", () => {
  const args = ohaArgs({
    url: "http://127.0.0.1:1/a/predict",
    bodies: [],
    rate_per_second: 500,
    duration_s: 2,
  }, "b");
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  assert.equal(after("-q"), "500");
  assert.equal(after("-z"), "2s");
  assert.equal(after("-Z"), "b");
  assert.ok(args.includes("--latency-correction"));
  assert.equal(args.at(-1), "http://127.0.0.1:1/a/predict");
});
