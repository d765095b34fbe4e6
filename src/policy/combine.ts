/**
 * Ensemble answers: combines the members' results of an "all" policy (exp4) into one answer, and names
 * the drawn model in a "one" policy's answer, as JSON text byte for byte as the serving core writes them.
 * tests/vectors/selection.json holds the cases both test against, and its "about" states every rule.
 * The answer's first fields are `answers.ts`'s, whose wording of default explanations this reuses.
 */

import {
  type Answer,
  embedJson,
  EXPLANATION_NO_MODEL,
  EXPLANATION_SLO_MISSED,
} from "../api/query/answers.ts";
import { type Completion, CompletionStatus } from "../core/core.ts";
import { jsonNumber } from "./json_text.ts";
import type { PolicyParams } from "./params.ts";

export type MemberStatus = "ok" | "deadline_missed" | "no_connected_model" | "model_error" | "dropped";

/** How one member's query ended: its output (ok), or why there is none. */
export interface MemberResult {
  readonly status: MemberStatus;
  readonly payload: string;
}

/** Explains a default output when a mean's first member answered but not a number. */
/** Why an ensemble that had answers has no mean of them (no number among them, or none weighing in). */
export const EXPLANATION_NO_MEAN = "The models' outputs have no weighted mean";

const STATUS_NAMES: Readonly<Record<number, MemberStatus>> = {
  [CompletionStatus.OK]: "ok",
  [CompletionStatus.DEADLINE_MISSED]: "deadline_missed",
  [CompletionStatus.NO_CONNECTED_MODEL]: "no_connected_model",
  [CompletionStatus.MODEL_ERROR]: "model_error",
  [CompletionStatus.DROPPED]: "dropped",
};

/** A core completion as a member's result. */
export function memberResult(c: Pick<Completion, "status" | "payload">): MemberResult {
  return { status: STATUS_NAMES[c.status] ?? "model_error", payload: c.payload };
}

function explanation(r: MemberResult | undefined): string {
  if (r === undefined) return EXPLANATION_NO_MODEL;
  switch (r.status) {
    case "no_connected_model":
      return EXPLANATION_NO_MODEL;
    case "deadline_missed":
      return EXPLANATION_SLO_MISSED;
    default:
      return r.payload;
  }
}

/** An answer's output as JSON, or why the default output answers instead. */
type Outcome = { readonly output: string } | { readonly why: string };

/** The answer object: `answers.ts`'s fields, then `tail` (more fields, as JSON). */
function answer(query_id: number, outcome: Outcome, defaultOutputJson: string, tail: string): Answer {
  if ("output" in outcome) {
    return {
      json: `{"query_id":${query_id},"output":${outcome.output},"default":false${tail}}`,
      default: false,
    };
  }
  const why = JSON.stringify(outcome.why);
  const head = `{"query_id":${query_id},"output":${defaultOutputJson},"default":true`;
  return { json: `${head},"default_explanation":${why}${tail}}`, default: true };
}

/** A "one" policy's answer: the drawn model's, and `"models_used":[member]`. */
export function drawnAnswer(
  query_id: number,
  member: string,
  defaultOutputJson: string,
  result: MemberResult,
): Answer {
  const outcome = result.status === "ok"
    ? { output: embedJson(result.payload) }
    : { why: explanation(result) };
  return answer(query_id, outcome, defaultOutputJson, `,"models_used":${JSON.stringify([member])}`);
}

/** An ensemble: its members' labels and their combination weights (positive), in the same order. */
export interface Ensemble extends Pick<PolicyParams["exp4"], "combine" | "min_confidence"> {
  readonly members: readonly string[];
  readonly weights: readonly number[];
}

interface Combined {
  /** The combined output as JSON; undefined when no member answered. */
  readonly output: string | undefined;
  readonly answered: readonly boolean[];
  readonly confidence: number;
}

// Zero weights cannot come from exp4 (weights are floored); still, 0/0 must not write NaN.
function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function vote(weights: readonly number[], results: readonly MemberResult[]): Combined {
  const answered = results.map((r) => r.status === "ok");
  const sums = new Map<string, number>();
  let answeredWeight = 0;
  for (const [i, r] of results.entries()) {
    if (!answered[i]) continue;
    answeredWeight += weights[i]!;
    sums.set(r.payload, (sums.get(r.payload) ?? 0) + weights[i]!);
  }
  // Maps iterate in insertion order, so a strict > leaves a tie with the earliest member's output.
  let winner: string | undefined;
  let top = 0;
  for (const [text, sum] of sums) {
    if (winner === undefined || sum > top) [winner, top] = [text, sum];
  }
  return {
    output: winner === undefined ? undefined : embedJson(winner),
    answered,
    confidence: ratio(top, answeredWeight),
  };
}

function mean(weights: readonly number[], results: readonly MemberResult[]): Combined {
  const numbers = results.map((r) => (r.status === "ok" ? jsonNumber(r.payload) : undefined));
  let weighted = 0;
  let answeredWeight = 0;
  let total = 0;
  for (const [i, x] of numbers.entries()) {
    total += weights[i]!;
    if (x === undefined) continue;
    weighted += weights[i]! * x;
    answeredWeight += weights[i]!;
  }
  const answered = numbers.map((x) => x !== undefined);
  const value = weighted / answeredWeight;
  return {
    output: answeredWeight > 0 && Number.isFinite(value) ? String(value) : undefined,
    answered,
    confidence: ratio(answeredWeight, total),
  };
}

/** A share in ten-thousandths as the answers write it: 5000 is `0.5000`. */
function fourDecimals(tenThousandths: number): string {
  return `${Math.trunc(tenThousandths / 10000)}.${String(tenThousandths % 10000).padStart(4, "0")}`;
}

/**
 * An "all" policy's answer from its members' results (in member order): the combined output, or the
 * default output when no member answered (the first member's explanation), when the answers have no mean
 * (`EXPLANATION_NO_MEAN`), or when the confidence, as written, is below `min_confidence`; with the members
 * used, those missing and the confidence.
 */
export function ensembleAnswer(
  query_id: number,
  ensemble: Ensemble,
  defaultOutputJson: string,
  results: readonly MemberResult[],
): Answer {
  const combined = (ensemble.combine === "vote" ? vote : mean)(ensemble.weights, results);
  const confidence = Math.round(combined.confidence * 10000);
  const floor = Math.round(ensemble.min_confidence * 10000);
  const tail = `,"models_used":${JSON.stringify(ensemble.members.filter((_, i) => combined.answered[i]))}` +
    `,"models_missing":${JSON.stringify(ensemble.members.filter((_, i) => !combined.answered[i]))}` +
    `,"confidence":${fourDecimals(confidence)}`;
  const outcome: Outcome = combined.output === undefined
    ? { why: results.some((r) => r.status === "ok") ? EXPLANATION_NO_MEAN : explanation(results[0]) }
    : confidence < floor
    ? {
      why: `Models disagree: confidence ${fourDecimals(confidence)} is below min_confidence ${
        fourDecimals(floor)
      }`,
    }
    : { output: combined.output };
  return answer(query_id, outcome, defaultOutputJson, tail);
}
