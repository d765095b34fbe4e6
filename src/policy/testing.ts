/**
 * Test support: synthetic feedback streams. Each round every model is wrong (loss 1) with its own
 * probability, else right (0), drawn from a seeded generator, and the policy learns from the round.
 * The shared scenario: three models, the best one not first (so no tie-break favours it), which later
 * starts failing.
 */

import assert from "node:assert/strict";
import { parsePolicy } from "./params.ts";
import { type Policy, policyFor } from "./policy.ts";
import { type Rng, seededRng } from "./rng.ts";
import { initialState, type PolicyState } from "./state.ts";

export const MODELS = ["a", "b", "c"];
const LOSS_PROBABILITIES = [0.5, 0.1, 0.3];
const BEST = 1;
const BEST_FAILS = [0.5, 0.9, 0.3];
export const SEEDS = [1, 2, 3, 4, 5];

/** Asserts numbers equal up to rounding. */
export function assertClose(actual: readonly number[], expected: readonly number[]): void {
  assert.equal(actual.length, expected.length);
  assert.ok(actual.every((x, i) => Math.abs(x - expected[i]!) < 1e-12), `${actual} is not ${expected}`);
}

/** The policy `name` with `params`, which must parse. */
export function policyNamed(name: string, params: unknown = {}): Policy {
  const parsed = parsePolicy(name, params);
  if (!parsed.ok) throw new Error(parsed.message);
  return policyFor(parsed);
}

interface Stream {
  readonly policy: Policy;
  state: PolicyState;
  /** Draws the losses; the policy's own draws use another generator, so they do not shift these. */
  readonly world: Rng;
  readonly rng: Rng;
}

/** A stream of the scenario's models from a fresh state. */
export function stream(policy: Policy, seed: number): Stream {
  return { policy, state: initialState(), world: seededRng(seed), rng: seededRng(seed + 1) };
}

function step(s: Stream, lossProbabilities: readonly number[]): void {
  const losses = new Map(MODELS.map((m, i) => [m, s.world() < lossProbabilities[i]! ? 1 : 0]));
  s.state = s.policy.update(s.state, MODELS, losses, s.rng);
}

/** Runs `rounds` feedbacks; returns the mean snapshot over the last `tail` of them. */
export function run(s: Stream, rounds: number, tail = rounds): number[] {
  const sums = MODELS.map(() => 0);
  for (let round = 0; round < rounds; round++) {
    step(s, LOSS_PROBABILITIES);
    if (round < rounds - tail) continue;
    for (const [i, p] of s.policy.snapshot(s.state, MODELS).entries()) sums[i]! += p / tail;
  }
  return sums;
}

/** For each seed, the mean snapshot over the last 500 of 3000 feedbacks: the best model must lead. */
export function assertSettlesOnBest(policy: Policy, least: number): void {
  for (const seed of SEEDS) {
    const mean = run(stream(policy, seed), 3000, 500);
    assert.ok(mean[BEST]! > least && mean.every((p, i) => i === BEST || p < mean[BEST]!), `${seed}: ${mean}`);
  }
}

/**
 * For each seed, after 3000 and after 10000 feedbacks of the best model leading: it fails from then on,
 * and within `limit` feedbacks another model must lead the snapshot.
 */
export function assertLeavesFailingBest(policy: Policy, limit: number): void {
  for (const seed of SEEDS) {
    for (const history of [3000, 10000]) {
      const s = stream(policy, seed);
      run(s, history);
      let round = 0;
      for (; round < limit; round++) {
        step(s, BEST_FAILS);
        const p = s.policy.snapshot(s.state, MODELS);
        if (p.some((x) => x > p[BEST]!)) break;
      }
      assert.ok(round < limit, `seed ${seed}, history ${history}`);
    }
  }
}
