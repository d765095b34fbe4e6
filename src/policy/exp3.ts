/**
 * Exp3 (Auer et al.): one model answers each query, drawn with probability `(1-γ)·w_i/Σw + γ/K`.
 * Feedback does not say which model served the query, so `update` draws it again from the same
 * probabilities (as the core drew it) and penalises only that model, by its importance-weighted loss
 * `eta · loss_i / p_i`: an unbiased estimate of every model's loss, as the bandit setting requires.
 */

import type { PolicyParams } from "./params.ts";
import type { Policy } from "./policy.ts";
import { draw } from "./rng.ts";
import { definePolicy, normalise, penalise, type PolicyState, weightsOf } from "./state.ts";

export function exp3(params: PolicyParams["exp3"]): Policy {
  const { gamma } = params;
  const snapshot = (state: PolicyState, models: readonly string[]) =>
    normalise(weightsOf(state, models)).map((p) => (1 - gamma) * p + gamma / models.length);
  return definePolicy({
    name: "exp3",
    mode: "one",
    params,
    snapshot,
    learn: (state, models, losses, rng) => {
      const p = snapshot(state, models);
      const drawn = draw(p, rng);
      const model = models[drawn];
      const loss = model === undefined ? undefined : losses.get(model);
      // The drawn model unscored (it failed to answer the feedback's input): nothing to learn.
      if (model === undefined || loss === undefined) return state;
      const eta = params.eta === "auto" ? gamma / models.length : params.eta;
      return penalise(state, models, new Map([[model, (eta * loss) / p[drawn]!]]));
    },
  });
}
