import { seededRng } from "./rng.ts";
import { initialState } from "./state.ts";
import { assertClose, assertSettlesOnBest, MODELS, policyNamed } from "./testing.ts";

Deno.test("epsilon_greedy tries each model without feedback first, the earliest first", () => {
  const greedy = policyNamed("epsilon_greedy", { epsilon: 0.3 });
  assertClose(greedy.snapshot(initialState(), MODELS), [0.8, 0.1, 0.1]);
  const state = greedy.update(initialState(), MODELS, new Map([["a", 0.5]]), seededRng(1));
  assertClose(greedy.snapshot(state, MODELS), [0.1, 0.8, 0.1]);
});

Deno.test("epsilon_greedy gives 1-ε to the lowest mean loss and ε/K to each", () => {
  const greedy = policyNamed("epsilon_greedy", { epsilon: 0.3 });
  const losses = new Map([["a", 0.5], ["b", 0.2], ["c", 0.2]]);
  const state = greedy.update(initialState(), MODELS, losses, seededRng(1));
  assertClose(greedy.snapshot(state, MODELS), [0.1, 0.8, 0.1]);
});

Deno.test("epsilon_greedy shifts most of its draws to the best model", () => {
  assertSettlesOnBest(policyNamed("epsilon_greedy"), 0.9);
});
