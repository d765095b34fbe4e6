/**
 * ε-greedy: each model is drawn with probability ε/K, and the one with the lowest mean loss (over all its
 * feedback) takes the remaining 1-ε. A model without feedback counts as loss 0, so each is tried first;
 * ties go to the earliest linked model. Feedback scores every model, so all their statistics learn.
 */

import type { PolicyParams } from "./params.ts";
import type { Policy } from "./policy.ts";
import { argmax, definePolicy, entriesOf, meanLoss } from "./state.ts";

export function epsilonGreedy(params: PolicyParams["epsilon_greedy"]): Policy {
  const { epsilon } = params;
  return definePolicy({
    name: "epsilon_greedy",
    mode: "one",
    params,
    snapshot: (state, models) => {
      const best = argmax(entriesOf(state, models).map((e) => -(meanLoss(e) ?? 0)));
      return models.map((_, i) => epsilon / models.length + (i === best ? 1 - epsilon : 0));
    },
  });
}
