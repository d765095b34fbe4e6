import assert from "node:assert/strict";
import { POLICY_NAMES } from "./params.ts";
import { seededRng } from "./rng.ts";
import { initialState } from "./state.ts";
import { assertClose, policyNamed } from "./testing.ts";

Deno.test("each policy name gets its policy, ensembles answering with all members", () => {
  for (const name of POLICY_NAMES) {
    const p = policyNamed(name);
    assert.equal(p.name, name);
    assert.equal(p.mode, name === "exp4" ? "all" : "one");
  }
});

Deno.test("the default policy always draws the first model and only monitors feedback", () => {
  const p = policyNamed("default");
  const state = p.update(initialState(), ["a", "b"], new Map([["a", 1], ["b", 0]]), seededRng(1));
  assert.deepEqual(p.snapshot(state, ["a", "b"]), [1, 0]);
  assert.deepEqual(p.view(state, ["a", "b"]), [
    { model: "a", weight: 1, feedback_count: 1, mean_loss: 1 },
    { model: "b", weight: 0, feedback_count: 1, mean_loss: 0 },
  ]);
});

Deno.test("every policy's snapshot sums to 1 as feedback arrives", () => {
  const models = ["a", "b", "c", "d"];
  const world = seededRng(9);
  for (const name of POLICY_NAMES) {
    const p = policyNamed(name);
    let state = initialState();
    for (let i = 0; i < 50; i++) {
      state = p.update(state, models, new Map(models.map((m) => [m, world()])), seededRng(i));
      assertClose([p.snapshot(state, models).reduce((x, y) => x + y)], [1]);
    }
  }
});
