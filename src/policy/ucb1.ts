/**
 * UCB1 (Auer et al.): the model with the highest upper confidence bound on its reward,
 * `(1 - mean loss) + c·sqrt(ln N / n_i)` (N all feedback, n_i the model's), answers every query; a model
 * without feedback comes first (the earliest such), and ties go to the earliest. Feedback scores every
 * model, so all their statistics learn.
 */

import type { PolicyParams } from "./params.ts";
import type { Policy } from "./policy.ts";
import { argmax, definePolicy, entriesOf, meanLoss, oneHot } from "./state.ts";

export function ucb1(params: PolicyParams["ucb1"]): Policy {
  return definePolicy({
    name: "ucb1",
    mode: "one",
    params,
    snapshot: (state, models) => {
      const entries = entriesOf(state, models);
      const total = entries.reduce((n, e) => n + (e?.feedback_count ?? 0), 0);
      const bounds = entries.map((e) => {
        const loss = meanLoss(e);
        return e === undefined || loss === undefined
          ? Infinity
          : 1 - loss + params.c * Math.sqrt(Math.log(total) / e.feedback_count);
      });
      return oneHot(models.length, argmax(bounds));
    },
  });
}
