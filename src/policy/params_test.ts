import assert from "node:assert/strict";
import { parsePolicy, POLICY_NAMES } from "./params.ts";

function message(name: unknown, params: unknown): string {
  const r = parsePolicy(name, params);
  assert.ok(!r.ok);
  return r.message;
}

Deno.test("every policy takes empty params and fills in its defaults, frozen", () => {
  assert.deepEqual(parsePolicy("exp3", {}), {
    ok: true,
    policy: "exp3",
    params: { loss: "zero_one", loss_scale: 1, window: 100, gamma: 0.1, eta: "auto" },
  });
  assert.deepEqual(parsePolicy("exp4", undefined), {
    ok: true,
    policy: "exp4",
    params: { loss: "zero_one", loss_scale: 1, window: 100, eta: 0.5, combine: "vote", min_confidence: 0 },
  });
  assert.deepEqual(parsePolicy("epsilon_greedy", null), {
    ok: true,
    policy: "epsilon_greedy",
    params: { loss: "zero_one", loss_scale: 1, window: 100, epsilon: 0.1 },
  });
  assert.deepEqual(parsePolicy("ucb1", { loss: "squared", loss_scale: 2.5, window: 1 }), {
    ok: true,
    policy: "ucb1",
    params: { loss: "squared", loss_scale: 2.5, window: 1, c: Math.SQRT2 },
  });
  const parsed = parsePolicy("default", {});
  assert.ok(parsed.ok && Object.isFrozen(parsed.params));
  for (const name of POLICY_NAMES) assert.ok(parsePolicy(name, {}).ok, name);
});

Deno.test("an absent policy name is the default policy", () => {
  assert.deepEqual(parsePolicy(undefined, undefined), {
    ok: true,
    policy: "default",
    params: { loss: "zero_one", loss_scale: 1, window: 100 },
  });
});

Deno.test("an unknown policy name is refused, listing the valid ones", () => {
  assert.equal(
    message("foo", {}),
    'Unknown policy "foo"; expected one of default, exp3, exp4, epsilon_greedy, ucb1',
  );
  assert.equal(message(3, {}), "Unknown policy 3; expected one of default, exp3, exp4, epsilon_greedy, ucb1");
});

const OUT_OF_RANGE: [string, Record<string, unknown>, string][] = [
  ["exp3", { gamma: 1.5 }, '"policy_params.gamma": expected a number in (0, 1], got 1.5'],
  ["exp3", { gamma: 0 }, '"policy_params.gamma": expected a number in (0, 1], got 0'],
  ["exp3", { eta: -1 }, '"policy_params.eta": expected a number > 0, got -1'],
  ["exp3", { eta: "fast" }, '"policy_params.eta": expected "auto" or a number > 0, got "fast"'],
  ["exp4", { eta: 0 }, '"policy_params.eta": expected a number > 0, got 0'],
  ["exp4", { min_confidence: 1.2 }, '"policy_params.min_confidence": expected a number in [0, 1], got 1.2'],
  ["exp4", { combine: "median" }, '"policy_params.combine": expected "vote" or "mean", got "median"'],
  ["epsilon_greedy", { epsilon: "0.1" }, '"policy_params.epsilon": expected a number in [0, 1], got "0.1"'],
  ["ucb1", { c: -0.5 }, '"policy_params.c": expected a number >= 0, got -0.5'],
  ["default", { window: 0 }, '"policy_params.window": expected an integer in [1, 100000], got 0'],
  ["default", { window: 2.5 }, '"policy_params.window": expected an integer in [1, 100000], got 2.5'],
  ["default", { loss_scale: 0 }, '"policy_params.loss_scale": expected a number > 0, got 0'],
  ["default", { loss: "hinge" }, '"policy_params.loss": expected "zero_one" or "squared", got "hinge"'],
];

Deno.test("an out-of-range param is refused, naming the param, the value and the range", () => {
  for (const [name, params, cause] of OUT_OF_RANGE) assert.equal(message(name, params), `Invalid ${cause}`);
});

Deno.test("a param another policy takes is refused as unknown, listing the ones this policy takes", () => {
  assert.equal(
    message("epsilon_greedy", { gamma: 0.1 }),
    'Invalid "policy_params": expected only loss, loss_scale, window, epsilon (unknown: "gamma"), got {"gamma":0.1}',
  );
});

Deno.test("params that are not an object are refused", () => {
  assert.equal(message("exp4", [1]), 'Invalid "policy_params": expected an object, got [1]');
});
