import assert from "node:assert/strict";
import { cargoCounts, denoCounts, pytestCounts } from "./counts.ts";

Deno.test("cargo's results are summed over every test binary", () => {
  const out = "test result: ok. 3 passed; 0 failed; 0 ignored\n" +
    "test result: FAILED. 4 passed; 2 failed; 1 ignored\n";
  assert.deepEqual(cargoCounts(out), [7, 2]);
});

Deno.test("deno's closing line is read with or without steps and colours", () => {
  assert.deepEqual(denoCounts("ok | 12 passed (3 steps) | 0 failed (2s)"), [12, 0]);
  assert.deepEqual(denoCounts("\x1b[31mFAILED\x1b[0m | 5 passed | 1 failed (9s)"), [5, 1]);
});

Deno.test("pytest's errors count as failures, alone or beside passes and failures", () => {
  assert.deepEqual(pytestCounts("....\n1 failed, 3 passed, 2 errors in 0.52s\n"), [3, 3]);
  assert.deepEqual(pytestCounts("=== 1 error in 0.10s ===\n"), [0, 1]);
  assert.deepEqual(pytestCounts("12 passed in 3.1s\n"), [12, 0]);
});

Deno.test("output without a summary counts nothing, so the runner can fail the suite that ran no test", () => {
  assert.deepEqual(pytestCounts("no tests ran in 0.01s\n"), [0, 0]);
  assert.deepEqual(denoCounts("error: Module not found"), [0, 0]);
  assert.deepEqual(cargoCounts(""), [0, 0]);
});
