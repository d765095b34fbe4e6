import assert from "node:assert/strict";
import { seededRng } from "./rng.ts";
import { initialState } from "./state.ts";
import { assertClose, assertLeavesFailingBest, assertSettlesOnBest, MODELS, policyNamed } from "./testing.ts";

Deno.test("exp3 draws each model with (1-γ)·w/Σw + γ/K", () => {
  const exp3 = policyNamed("exp3", { gamma: 0.3 });
  assertClose(exp3.snapshot(initialState(), MODELS), [1 / 3, 1 / 3, 1 / 3]);
  const entry = { weight: 1, feedback_count: 0, loss_sum: 0, recent: [] };
  const state = { models: { a: entry, b: { ...entry, weight: 0.5 } } };
  assertClose(exp3.snapshot(state, ["a", "b"]), [0.7 * 2 / 3 + 0.15, 0.7 / 3 + 0.15]);
});

Deno.test("exp3 learns only the drawn model's weight, by its loss over its probability", () => {
  const exp3 = policyNamed("exp3", { gamma: 0.3, eta: 0.2 });
  // A draw of 0.5 picks b (p = 1/3 each).
  const state = exp3.update(initialState(), MODELS, new Map(MODELS.map((m) => [m, 1])), () => 0.5);
  assert.deepEqual(MODELS.map((m) => state.models[m]?.weight), [1, Math.exp(-0.2 * 3), 1]);
  assert.deepEqual(MODELS.map((m) => state.models[m]?.feedback_count), [1, 1, 1]);
});

Deno.test("exp3 learns nothing when the drawn model was not scored", () => {
  const exp3 = policyNamed("exp3");
  const state = exp3.update(initialState(), MODELS, new Map([["a", 1]]), () => 0.5);
  assert.deepEqual(exp3.snapshot(state, MODELS), exp3.snapshot(initialState(), MODELS));
  assert.equal(state.models.a?.feedback_count, 1);
});

Deno.test("exp3's automatic eta is γ/K", () => {
  const losses = new Map(MODELS.map((m) => [m, 1]));
  const auto = policyNamed("exp3").update(initialState(), MODELS, losses, seededRng(3));
  const explicit = policyNamed("exp3", { eta: 0.1 / 3 }).update(initialState(), MODELS, losses, seededRng(3));
  assert.deepEqual(auto, explicit);
});

Deno.test("exp3 shifts most of its draws to the best model", () => {
  // The most it can give one model is 1 - γ + γ/K = 0.933.
  assertSettlesOnBest(policyNamed("exp3"), 0.9);
});

Deno.test("exp3 moves away from a failing best model within 800 feedbacks, however long it led", () => {
  // Measured: 363 to 562 feedbacks over 20 seeds.
  assertLeavesFailingBest(policyNamed("exp3"), 800);
});
