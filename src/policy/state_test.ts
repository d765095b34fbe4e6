import assert from "node:assert/strict";
import { seededRng } from "./rng.ts";
import { policyNamed as policy } from "./testing.ts";
import { initialState, penalise, type PolicyState, SHARED_UID, stateFor, WEIGHT_FLOOR } from "./state.ts";

const rng = seededRng(7);

Deno.test("a new uid starts from uid 0's state, and its feedback leaves uid 0's alone", () => {
  const exp4 = policy("exp4");
  const shared = exp4.update(initialState(), ["a", "b"], new Map([["a", 1], ["b", 0]]), rng);
  const states = new Map([[SHARED_UID, shared]]);
  const fresh = stateFor(states, "42");
  assert.deepEqual(fresh, shared);
  const own = exp4.update(fresh, ["a", "b"], new Map([["a", 0], ["b", 1]]), rng);
  assert.notDeepEqual(own, shared);
  assert.deepEqual(stateFor(new Map([...states, ["42", own]]), "42"), own);
  assert.deepEqual(states.get(SHARED_UID), shared);
  assert.deepEqual(stateFor(new Map(), "42"), initialState());
});

Deno.test("update returns a new state and leaves the one it was given as it was", () => {
  const before = policy("exp3").update(initialState(), ["a", "b"], new Map([["a", 1], ["b", 1]]), rng);
  const copy = structuredClone(before);
  policy("exp3").update(before, ["a", "b"], new Map([["a", 1], ["b", 0]]), rng);
  assert.deepEqual(before, copy);
});

Deno.test("a model linked later joins with the mean weight of the others, and no feedback", () => {
  const exp4 = policy("exp4");
  let state = initialState();
  for (let i = 0; i < 3; i++) state = exp4.update(state, ["a", "b"], new Map([["a", 1], ["b", 0]]), rng);
  const [a, b] = exp4.snapshot(state, ["a", "b"]) as [number, number];
  const [a3, b3, c3] = exp4.snapshot(state, ["a", "b", "c"]) as [number, number, number];
  assert.ok(Math.abs(c3 - (a3 + b3) / 2) < 1e-12);
  assert.ok(Math.abs(a3 / b3 - a / b) < 1e-12);
  const view = exp4.view(state, ["a", "b", "c"]);
  assert.deepEqual(view[2], { model: "c", weight: c3, feedback_count: 0, mean_loss: null });
  state = exp4.update(state, ["a", "b", "c"], new Map([["a", 1], ["b", 0], ["c", 0]]), rng);
  assert.equal(state.models.c?.feedback_count, 1);
});

Deno.test("an unlinked model's entry is ignored and kept for when it is linked again", () => {
  const exp4 = policy("exp4");
  let state = exp4.update(initialState(), ["a", "b"], new Map([["a", 1], ["b", 0]]), rng);
  const a = state.models.a;
  state = exp4.update(state, ["b", "c"], new Map([["a", 0], ["b", 1], ["c", 0]]), rng);
  assert.deepEqual(state.models.a, a);
  assert.equal(exp4.snapshot(state, ["b", "c"]).reduce((x, y) => x + y), 1);
  assert.deepEqual(exp4.view(state, ["b", "c"]).map((v) => v.model), ["b", "c"]);
});

Deno.test("statistics count every scored model's feedback and average the last window of losses", () => {
  const ucb1 = policy("ucb1", { window: 2 });
  let state: PolicyState = initialState();
  for (const l of [1, 0, 0.5]) state = ucb1.update(state, ["a", "b"], new Map([["a", l]]), rng);
  assert.deepEqual(state.models.a, { weight: 1, feedback_count: 3, loss_sum: 1.5, recent: [0, 0.5] });
  assert.equal(state.models.b, undefined);
  const [a, b] = ucb1.view(state, ["a", "b"]);
  assert.deepEqual(a, { model: "a", weight: 0, feedback_count: 3, mean_loss: 0.25 });
  assert.deepEqual(b, { model: "b", weight: 1, feedback_count: 0, mean_loss: null });
  const one = policy("default", { window: 1 }).update(state, ["a"], new Map([["a", 1]]), rng);
  assert.deepEqual(one.models.a?.recent, [1]);
});

Deno.test("a state survives JSON, and a model named like an Object property is an ordinary model", () => {
  const exp4 = policy("exp4");
  const models = ["constructor", "__proto__", "toString"];
  const state = exp4.update(initialState(), models, new Map(models.map((m) => [m, 0.5])), rng);
  const revived = JSON.parse(JSON.stringify(state)) as PolicyState;
  assert.deepEqual(exp4.view(revived, models), exp4.view(state, models));
  assert.deepEqual(exp4.view(state, models).map((v) => v.feedback_count), [1, 1, 1]);
  assert.deepEqual(exp4.view(initialState(), ["constructor"])[0]?.feedback_count, 0);
});

Deno.test("weights renormalise so the heaviest weighs 1, and none falls below the floor or underflows", () => {
  let state = initialState();
  for (let i = 0; i < 100; i++) state = penalise(state, ["a", "b"], new Map([["a", 1000]]));
  assert.equal(state.models.a?.weight, WEIGHT_FLOOR);
  assert.equal(state.models.b?.weight, 1);
  state = penalise(state, ["a", "b"], new Map([["a", 1e6], ["b", 1e6]]));
  // Equal penalties keep the ratio, up to the rounding of logs near -1e6.
  assert.ok(Math.abs(state.models.a!.weight - WEIGHT_FLOOR) < 1e-12);
  assert.equal(state.models.b?.weight, 1);
});

Deno.test("with no linked models, snapshots and views are empty and feedback changes nothing", () => {
  for (const name of ["default", "exp3", "exp4", "epsilon_greedy", "ucb1"]) {
    const p = policy(name);
    assert.deepEqual(p.snapshot(initialState(), []), [], name);
    assert.deepEqual(p.view(initialState(), []), [], name);
    assert.deepEqual(p.update(initialState(), [], new Map([["a", 1]]), rng), initialState(), name);
  }
});
