/**
 * Selection policies: which of an application's linked models answer a query, and how that choice learns
 * from `/update` feedback. Owns the policies' math and their per-user state's shape: each policy turns a
 * state into the snapshot the core serves from (a draw probability per model for "one" policies, a
 * combination weight per member for "all" ones) and folds one feedback's losses into a new state.
 * Also owns scoring feedback (`loss.ts`), `policy_params` (`params.ts`) and combining an ensemble's
 * answers (`combine.ts`).
 *
 * Must not do I/O, persistence, HTTP or talk to the core: callers load and store states (per app and uid),
 * gather the losses, publish snapshots and inject the randomness. Versions and core ids are resolved by
 * `routing`.
 */

import { defaultPolicy } from "./default.ts";
import { epsilonGreedy } from "./epsilon_greedy.ts";
import { exp3 } from "./exp3.ts";
import { exp4 } from "./exp4.ts";
import type { PolicyName, PolicySpec } from "./params.ts";
import type { Rng } from "./rng.ts";
import type { PolicyState } from "./state.ts";
import { ucb1 } from "./ucb1.ts";

/** "one": one drawn model answers each query; "all": every member answers and the answers combine. */
export type PolicyMode = "one" | "all";

/** A model as the API shows a policy's state. */
export interface ModelView {
  readonly model: string;
  /** The snapshot's number: draw probability ("one") or combination weight ("all"). */
  readonly weight: number;
  readonly feedback_count: number;
  /** Mean over the last `window` losses; null before any feedback. */
  readonly mean_loss: number | null;
}

export interface Policy {
  readonly name: PolicyName;
  readonly mode: PolicyMode;
  /** The core's numbers, in `models` (the linked models') order, summing to 1 (empty for no models). */
  snapshot(state: PolicyState, models: readonly string[]): number[];
  /**
   * The state after one feedback in which the models in `losses` were scored (losses in [0, 1]); scored
   * models that are not linked are ignored. `models` are the linked ones, whose snapshot exp3 draws from.
   * Returns a new state; `state` is left as it was.
   */
  update(
    state: PolicyState,
    models: readonly string[],
    losses: ReadonlyMap<string, number>,
    rng: Rng,
  ): PolicyState;
  view(state: PolicyState, models: readonly string[]): ModelView[];
}

/** The policy a parsed spec names, with its params. */
export function policyFor(spec: PolicySpec): Policy {
  switch (spec.policy) {
    case "default":
      return defaultPolicy(spec.params);
    case "exp3":
      return exp3(spec.params);
    case "exp4":
      return exp4(spec.params);
    case "epsilon_greedy":
      return epsilonGreedy(spec.params);
    case "ucb1":
      return ucb1(spec.params);
  }
}
