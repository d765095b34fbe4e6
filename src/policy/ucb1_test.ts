import assert from "node:assert/strict";
import { seededRng } from "./rng.ts";
import { initialState } from "./state.ts";
import { assertSettlesOnBest, MODELS, policyNamed } from "./testing.ts";

const rng = seededRng(1);

Deno.test("ucb1 answers with models without feedback first, the earliest first", () => {
  const ucb1 = policyNamed("ucb1");
  assert.deepEqual(ucb1.snapshot(initialState(), MODELS), [1, 0, 0]);
  const state = ucb1.update(initialState(), MODELS, new Map([["a", 0]]), rng);
  assert.deepEqual(ucb1.snapshot(state, MODELS), [0, 1, 0]);
});

Deno.test("ucb1 picks the highest bound (1 - mean loss) + c·sqrt(ln N / n_i)", () => {
  const ucb1 = policyNamed("ucb1", { c: 1 });
  let state = initialState();
  // a: 4 feedbacks, mean loss 0.5; b: 1 feedback, loss 1. N = 5.
  for (const l of [0, 1, 0, 1]) state = ucb1.update(state, ["a"], new Map([["a", l]]), rng);
  state = ucb1.update(state, ["a", "b"], new Map([["b", 1]]), rng);
  // a: 0.5 + sqrt(ln 5 / 4) = 1.13; b: 0 + sqrt(ln 5) = 1.27.
  assert.deepEqual(ucb1.snapshot(state, ["a", "b"]), [0, 1]);
  // Greedy without exploration: a's lower loss wins.
  assert.deepEqual(policyNamed("ucb1", { c: 0 }).snapshot(state, ["a", "b"]), [1, 0]);
});

Deno.test("ucb1 shifts its picks to the best model", () => {
  assertSettlesOnBest(policyNamed("ucb1"), 0.95);
});
