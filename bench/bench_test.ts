/**
 * The harness itself, on a 1-second smoke run of each scenario: it runs, its tools' output is parsed into
 * figures, and every process it started is gone afterwards. No timing is asserted.
 */
import assert from "node:assert/strict";
import { contextFor, runScenarios, SCENARIOS } from "./main.ts";
import { survivors } from "./lib/processes.ts";
import { parseWrk } from "./lib/wrk.ts";
import { parseCriterion } from "./scenarios/native.ts";
import { markdown } from "./lib/report.ts";
import { kneeShare } from "./lib/result.ts";

Deno.test("wrk's latency report is parsed into milliseconds, and anything else is refused", () => {
  const out = `Running 1s test @ http://127.0.0.1:1
  2 threads and 32 connections
  Latency Distribution
     50%  410.00us
     75%    1.10ms
     90%    2.00ms
     99%    1.20s
  1000 requests in 1.00s, 100KB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   1000.50
`;
  assert.deepEqual(parseWrk(out), {
    requests_per_second: 1000.5,
    p50_ms: 0.41,
    p90_ms: 2,
    p99_ms: 1200,
    requests: 1000,
    errors: 7,
  });
  assert.throws(() => parseWrk("connection refused"), /wrk output has no/);
});

Deno.test("criterion's intervals are read in nanoseconds", () => {
  const out =
    "cache/hit  time:   [28.1 ns 28.5 ns 29.0 ns]\nengine/round_trip\n                        time:   [6.70 µs 6.77 µs 6.85 µs]\n";
  assert.deepEqual(parseCriterion(out), {
    "cache/hit_ns": { min: 28.1, median: 28.5, max: 29 },
    "engine/round_trip_ns": { min: 6700, median: 6770, max: 6850 },
  });
});

Deno.test("the knee of a latency curve is the first rate whose p99 doubles the lowest rate's", () => {
  const point = (offered_per_second: number, p99_ms: number) => ({
    offered_per_second,
    achieved_per_second: offered_per_second,
    p50_ms: 1,
    p90_ms: 1,
    p99_ms,
  });
  const curve = [point(900, 30), point(100, 2), point(500, 3), point(800, 4.5)];
  assert.equal(kneeShare(curve, 1000), 0.8);
  assert.equal(kneeShare([point(100, 2), point(900, 4)], 1000), 1, "a flat curve has no knee");
  assert.equal(kneeShare([], 1000), 1);
});

for (const name of Object.keys(SCENARIOS)) {
  Deno.test(`the ${name} scenario runs for a second, reports parsed figures and leaves no process behind`, async () => {
    const log_dir = await Deno.makeTempDir({ prefix: `bench-smoke-${name}-` });
    const [result] = await runScenarios([name], contextFor(true, log_dir));
    assert.ok(result);
    assert.equal(result.scenario, name);
    const figures = Object.entries(result.figures);
    assert.ok(figures.length > 0);
    for (const [figure, f] of figures) {
      assert.ok(Number.isFinite(f.median) && f.min <= f.median && f.median <= f.max, JSON.stringify(f));
      // A load that got no answers is a broken run, however well its report parses.
      if (figure.endsWith("_per_second")) assert.ok(f.median > 0, `${figure}: ${JSON.stringify(f)}`);
    }
    if (name !== "native") {
      assert.ok(result.figures.ceiling_requests_per_second, "the ceiling was measured in the same run");
      assert.ok(result.figures.hyper_ceiling_requests_per_second, "and the hyper ceiling too");
    }
    assert.match(markdown([result], "# smoke"), new RegExp(`## ${name}`));
    assert.deepEqual(await survivors(), []);
    await Deno.remove(log_dir, { recursive: true });
  });
}
