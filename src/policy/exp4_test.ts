import assert from "node:assert/strict";
import { seededRng } from "./rng.ts";
import { initialState } from "./state.ts";
import { assertLeavesFailingBest, MODELS, policyNamed, run, SEEDS, stream } from "./testing.ts";

Deno.test("exp4 asks every member and weighs them w/Σw, starting equal", () => {
  const exp4 = policyNamed("exp4");
  assert.equal(exp4.mode, "all");
  assert.deepEqual(exp4.snapshot(initialState(), ["a", "b"]), [0.5, 0.5]);
});

Deno.test("exp4 penalises every scored member by exp(-eta · loss)", () => {
  const exp4 = policyNamed("exp4", { eta: 2 });
  const state = exp4.update(initialState(), MODELS, new Map([["a", 1], ["b", 0.5]]), seededRng(1));
  assert.deepEqual(MODELS.map((m) => state.models[m]?.weight), [Math.exp(-2), Math.exp(-1), 1]);
});

Deno.test("exp4's weights favour the accurate member", () => {
  for (const seed of SEEDS) {
    const s = stream(policyNamed("exp4"), seed);
    // Early, before the worse two reach the weight floor and tie.
    run(s, 40);
    const [a, b, c] = s.policy.snapshot(s.state, MODELS) as [number, number, number];
    assert.ok(b > 0.75 && b > c && c > a, `seed ${seed}: ${[a, b, c]}`);
  }
});

Deno.test("exp4 moves away from a failing best member within 80 feedbacks, however long it led", () => {
  // Measured: 23 to 46 feedbacks over 20 seeds.
  assertLeavesFailingBest(policyNamed("exp4"), 80);
});
