/**
 * The probes' own parsing and arithmetic: arm specs, each second of an oha attack, py-spy's collapsed
 * stacks, the profilers' command lines, per-thread CPU and the paired summary. Starts nothing.
 */
import assert from "node:assert/strict";
import { parseArm } from "./lib/arms.ts";
import { type OhaRow, perSecond } from "./lib/per_second.ts";
import { inclusiveShares, perfRecordArgs, pySpyArgs } from "./lib/profile.ts";
import { summaryTable, threadCpu } from "./alternate.ts";

Deno.test("an arm spec names its server and options, with the scenarios' defaults for the rest", () => {
  const arm = parseArm("clipper,model=logreg,batch=1,timed,renice=-10,spin=2,python=672e271");
  assert.equal(arm.server, "clipper");
  assert.equal(arm.model, "logreg");
  assert.equal(arm.batch_size, 1);
  assert.equal(arm.timed, true);
  assert.equal(arm.renice, -10);
  assert.equal(arm.spin, 2);
  assert.equal(arm.python_rev, "672e271");
  assert.equal(arm.cache_bytes, 0);
  assert.equal(arm.slo_micros, undefined);
  assert.equal(parseArm("ceiling").batch_size, -1);
  assert.equal(parseArm("clipper,name=core at -10").name, "core at -10");
  assert.equal(parseArm("http://127.0.0.1:8000/").url, "http://127.0.0.1:8000");
  const tuned = parseArm("clipper,sizing=quantile,delay=2000,threads=2,cpus=0-1");
  assert.deepEqual(
    [tuned.sizing, tuned.delay_micros, tuned.threads, tuned.cpus],
    ["quantile", 2000, 2, "0-1"],
  );
});

Deno.test("an arm spec with an unknown option, a bad number or a Clipper-only option elsewhere is refused", () => {
  assert.throws(() => parseArm("clipper,turbo"), /Unknown arm option "turbo"/);
  assert.throws(() => parseArm("clipper,batch=big"), /batch needs an integer/);
  assert.throws(() => parseArm("ceiling,renice=-10"), /apply to a clipper arm only/);
  assert.throws(() => parseArm("nginx"), /starts with clipper, ceiling or a URL/);
  assert.throws(() => parseArm("clipper,sizing=greedy"), /sizing is aimd or quantile/);
  assert.throws(() => parseArm("clipper,cpus=all"), /cpus is a CPU list/);
  assert.throws(() => parseArm("ceiling,threads=2"), /apply to a clipper arm only/);
});

Deno.test("each second of an attack gives its p99 from when requests were due and oha's own wait", () => {
  // 100 requests due in second 0, answered in 1 ms; one of them sent 30 ms late and answered 31 ms after due.
  const rows = Array.from(
    { length: 100 },
    (_, i): OhaRow => ({ start: i / 200, due: i / 200, end: i / 200 + 0.001 }),
  );
  rows[50] = { start: 0.28, due: 0.25, end: 0.281 };
  // One request in second 1, with no latency correction: counted from when it was sent.
  rows.push({ start: 1.5, due: null, end: 1.502 });
  const [first, second] = perSecond(rows);
  assert.equal(first!.second, 0);
  assert.equal(first!.requests, 100);
  assert.ok(Math.abs(first!.p99_ms - 1) < 1e-9, `p99 ${first!.p99_ms}`);
  // One late request in 100 is beyond the p99 of the wait.
  assert.equal(first!.wait_p99_ms, 0);
  assert.equal(second!.requests, 1);
  assert.ok(Math.abs(second!.p99_ms - 2) < 1e-9);
  assert.equal(second!.wait_p99_ms, 0);
  // 101 results: the 1st, 2nd, 4th ... 64th ended in second 0.
  assert.deepEqual(first!.doublings, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(second!.doublings, []);
});

Deno.test("the worst of a second's waits inside oha shows in its wait p99 when it is over 1 % of them", () => {
  const rows = Array.from({ length: 50 }, (_, i) => ({ start: i / 100, due: i / 100, end: i / 100 + 0.001 }));
  rows[10] = { start: 0.14, due: 0.1, end: 0.141 };
  assert.ok(Math.abs(perSecond(rows)[0]!.wait_p99_ms - 40) < 1e-6);
});

Deno.test("py-spy's collapsed stacks give each function's inclusive share of the samples", () => {
  const collapsed = [
    "run (c.py:1);_handle (c.py:2);send (z.py:3) 46",
    "run (c.py:1);receive (z.py:4) 23",
    "run (c.py:1);_handle (c.py:2);predict (m.py:5);predict (m.py:5) 31",
    "not a stack line",
  ].join("\n");
  const shares = new Map(inclusiveShares(collapsed).map((s) => [s.frame, s.share]));
  assert.equal(shares.get("run (c.py:1)"), 1);
  assert.equal(shares.get("send (z.py:3)"), 0.46);
  assert.equal(shares.get("_handle (c.py:2)"), 0.77);
  // A recursive frame counts once per sample.
  assert.equal(shares.get("predict (m.py:5)"), 0.31);
});

Deno.test("perf samples the whole machine, a process or the core thread, and refuses what the arm lacks", () => {
  assert.deepEqual(perfRecordArgs("all", {}, 5, "o").slice(3, 4), ["-a"]);
  assert.deepEqual(perfRecordArgs("core", { core_tid: 42 }, 5, "o").slice(3, 5), ["-t", "42"]);
  assert.deepEqual(perfRecordArgs("container", { container: 7 }, 5, "o").slice(3, 5), ["-p", "7"]);
  assert.deepEqual(perfRecordArgs("frontend", { frontend: 8 }, 6, "o").slice(-2), ["sleep", "6"]);
  assert.throws(() => perfRecordArgs("core", {}, 5, "o"), /this arm has no core thread/);
  assert.ok(pySpyArgs(7, 8, "o").includes("--nonblocking"));
});

Deno.test("each thread's CPU is the difference of two readings, summed by process and thread name", () => {
  const before = new Map([["frontend", [{ tid: 1, name: "deno", seconds: 1 }, {
    tid: 2,
    name: "clipper-core",
    seconds: 5,
  }]]]);
  const after = new Map([["frontend", [
    { tid: 1, name: "deno", seconds: 1.5 },
    { tid: 2, name: "clipper-core", seconds: 9 },
    { tid: 3, name: "deno", seconds: 0.25 },
  ]]]);
  const used = threadCpu(before, after);
  assert.equal(used.get("frontend clipper-core"), 4);
  assert.equal(used.get("frontend deno"), 0.75);
});

Deno.test("the summary gives each arm's median and range, and the median of the paired ratios", () => {
  const rounds: Record<string, number>[][] = [
    [{ "p99 ms": 2 }, { "p99 ms": 4 }],
    [{ "p99 ms": 1 }, { "p99 ms": 3 }],
    [{ "p99 ms": 2 }, { "p99 ms": 5, "core: model answers/s": 100 }],
  ];
  const table = summaryTable(["ceiling", "clipper"], rounds).split("\n");
  assert.equal(table[0], "| figure | ceiling | clipper | clipper / ceiling |");
  assert.equal(table[2], "| p99 ms | 2 (1–2) | 4 (3–5) | 2.50 |");
  assert.equal(table[3], "| core: model answers/s |  | 100 |  |");
});
