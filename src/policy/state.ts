/**
 * Policy state and the machinery every policy shares: the per-user state's shape (keyed by model name, so
 * links can change), recording feedback statistics, the multiplicative weight update, and the view.
 * Each policy module supplies only its snapshot and, where it learns weights, its penalties.
 *
 * States are immutable values: `update` returns a new state and leaves its input as it was, so one state
 * can be shared (a new uid reads uid "0"'s) and persisted without copies.
 */

import type { PolicyName, SharedParams } from "./params.ts";
import type { Policy, PolicyMode } from "./policy.ts";
import type { Rng } from "./rng.ts";

/** One model's learned weight and feedback statistics. JSON-serialisable, like the whole state. */
export interface ModelEntry {
  /** Relative to the heaviest linked model, which weighs 1; only exp3 and exp4 change it. */
  readonly weight: number;
  readonly feedback_count: number;
  readonly loss_sum: number;
  /** The last `window` losses, oldest first. */
  readonly recent: readonly number[];
}

/** An unlinked model's entry is kept (it resumes if linked again) but ignored. */
export interface PolicyState {
  readonly models: Readonly<Record<string, ModelEntry>>;
}

/** The app's shared state; a uid never seen starts from it. */
export const SHARED_UID = "0";

/**
 * A weight never falls below this share of the heaviest: a member that was bad for long can win back
 * within about ln(1/floor)/eta bad feedbacks of the leader, however long the history.
 */
export const WEIGHT_FLOOR = 1e-4;

export function initialState(): PolicyState {
  return { models: {} };
}

/** `uid`'s state: its own, else (never seen) uid "0"'s, else a fresh one. */
export function stateFor(states: ReadonlyMap<string, PolicyState>, uid: string): PolicyState {
  return states.get(uid) ?? states.get(SHARED_UID) ?? initialState();
}

// Own keys only: a model named "constructor" must not read Object.prototype's.
function entryOf(state: PolicyState, model: string): ModelEntry | undefined {
  return Object.hasOwn(state.models, model) ? state.models[model] : undefined;
}

export function entriesOf(state: PolicyState, models: readonly string[]): (ModelEntry | undefined)[] {
  return models.map((m) => entryOf(state, m));
}

function mean(xs: readonly number[]): number | undefined {
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Mean loss over all feedback, what the greedy policies decide on; undefined before any. */
export function meanLoss(e: ModelEntry | undefined): number | undefined {
  return e === undefined || e.feedback_count === 0 ? undefined : e.loss_sum / e.feedback_count;
}

/** The linked models' weights in order; a model without an entry joins with the mean of the others. */
export function weightsOf(state: PolicyState, models: readonly string[]): number[] {
  const known = entriesOf(state, models).map((e) => e?.weight);
  const joining = mean(known.filter((w) => w !== undefined)) ?? 1;
  return known.map((w) => w ?? joining);
}

export function normalise(xs: readonly number[]): number[] {
  const total = xs.reduce((a, b) => a + b, 0);
  return xs.map((x) => x / total);
}

/** The first index of the largest value (ties go to the earliest model), -1 when empty. */
export function argmax(xs: readonly number[]): number {
  let best = -1;
  for (const [i, x] of xs.entries()) if (best < 0 || x > xs[best]!) best = i;
  return best;
}

export function oneHot(length: number, index: number): number[] {
  return Array.from({ length }, (_, i) => (i === index ? 1 : 0));
}

function withEntries(state: PolicyState, changed: readonly (readonly [string, ModelEntry])[]): PolicyState {
  // Object.fromEntries defines keys, so even "__proto__" stays an ordinary model name.
  return { models: { ...state.models, ...Object.fromEntries(changed) } };
}

function fresh(weight: number): ModelEntry {
  return { weight, feedback_count: 0, loss_sum: 0, recent: [] };
}

/**
 * The multiplicative update `w_i ← w_i · exp(-penalty_i)` over the linked models, renormalised so the
 * heaviest weighs 1 and floored at `WEIGHT_FLOOR`. Worked in logs, so no penalty underflows to 0.
 */
export function penalise(
  state: PolicyState,
  models: readonly string[],
  penalties: ReadonlyMap<string, number>,
): PolicyState {
  const logs = weightsOf(state, models).map((w, i) => Math.log(w) - (penalties.get(models[i]!) ?? 0));
  const top = Math.max(...logs);
  return withEntries(
    state,
    models.map((m, i) => {
      const weight = Math.max(WEIGHT_FLOOR, Math.exp(logs[i]! - top));
      return [m, { ...(entryOf(state, m) ?? fresh(weight)), weight }];
    }),
  );
}

/** Adds one feedback's losses to the statistics of each linked model that was scored. */
function recordLosses(
  state: PolicyState,
  models: readonly string[],
  losses: ReadonlyMap<string, number>,
  window: number,
): PolicyState {
  const weights = weightsOf(state, models);
  return withEntries(
    state,
    models.flatMap((m, i) => {
      const loss = losses.get(m);
      if (loss === undefined) return [];
      const e = entryOf(state, m) ?? fresh(weights[i]!);
      const recent = [...e.recent.slice(Math.max(0, e.recent.length - window + 1)), loss];
      return [[m, { ...e, feedback_count: e.feedback_count + 1, loss_sum: e.loss_sum + loss, recent }]];
    }),
  );
}

/** What a policy module supplies; `definePolicy` adds the statistics and the view. */
export interface PolicyDefinition {
  readonly name: PolicyName;
  readonly mode: PolicyMode;
  readonly params: SharedParams;
  snapshot(state: PolicyState, models: readonly string[]): number[];
  /** Learns weights from one feedback, on the state before its statistics are added; absent: none. */
  learn?(
    state: PolicyState,
    models: readonly string[],
    losses: ReadonlyMap<string, number>,
    rng: Rng,
  ): PolicyState;
}

export function definePolicy(d: PolicyDefinition): Policy {
  return {
    name: d.name,
    mode: d.mode,
    snapshot: d.snapshot,
    update: (state, models, losses, rng) =>
      recordLosses(d.learn?.(state, models, losses, rng) ?? state, models, losses, d.params.window),
    view: (state, models) => {
      const weights = d.snapshot(state, models);
      return entriesOf(state, models).map((e, i) => ({
        model: models[i]!,
        weight: weights[i]!,
        feedback_count: e?.feedback_count ?? 0,
        mean_loss: mean(e?.recent ?? []) ?? null,
      }));
    },
  };
}
