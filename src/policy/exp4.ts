/**
 * Exp4 as Clipper's ensemble policy: every member answers each query and their answers combine
 * (`combine.ts`) with weights `w_i/Σw`. Feedback scores every member, so each is penalised by its own
 * loss, `w_i ← w_i · exp(-eta · loss_i)` (full information: no importance weighting).
 */

import type { PolicyParams } from "./params.ts";
import type { Policy } from "./policy.ts";
import { definePolicy, normalise, penalise, weightsOf } from "./state.ts";

export function exp4(params: PolicyParams["exp4"]): Policy {
  return definePolicy({
    name: "exp4",
    mode: "all",
    params,
    snapshot: (state, models) => normalise(weightsOf(state, models)),
    learn: (state, models, losses) =>
      penalise(state, models, new Map([...losses].map(([model, loss]) => [model, params.eta * loss]))),
  });
}
