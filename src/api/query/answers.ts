/**
 * Answers: writes a query's completion as the original Clipper's response object
 * `{query_id, output, default, default_explanation?}`, as JSON text byte for byte as the serving core
 * writes it, so one model output reads the same whichever path answered (tests/vectors/answers.json holds
 * the cases both test against). A model's output (and a default output) is embedded as it was written when
 * it is a JSON document (`6.0` stays `6.0`), else as a string. Owns the default explanations' wording,
 * which clients of the original match on.
 */

import { type Completion, CompletionStatus } from "../../core/core.ts";

export const EXPLANATION_SLO_MISSED =
  "Failed to retrieve a prediction response within the specified latency SLO";
export const EXPLANATION_NO_MODEL = "No connected models found for query";

/** One query's answer: its JSON text, and whether it is the default output. */
export interface Answer {
  readonly json: string;
  readonly default: boolean;
}

/** Text as JSON: itself, trimmed, when it is a JSON document, else a JSON string of it. */
export function embedJson(text: string): string {
  const trimmed = text.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "");
  const first = trimmed[0];
  // Only try to parse what could be JSON; parse errors are slow and bare words are common outputs.
  if (first !== undefined && '{["-0123456789tfn'.includes(first)) {
    try {
      JSON.parse(trimmed);
      return trimmed;
    } catch {
      // Not JSON: a string.
    }
  }
  return JSON.stringify(text);
}

/** Why a query got the default output, as `default_explanation` says it. */
export function explanation(c: Completion): string {
  switch (c.status) {
    case CompletionStatus.DEADLINE_MISSED:
      return EXPLANATION_SLO_MISSED;
    case CompletionStatus.NO_CONNECTED_MODEL:
      return EXPLANATION_NO_MODEL;
    default:
      return c.payload;
  }
}

/** `defaultOutputJson` is the app's default output already embedded (`embedJson`). */
export function toAnswer(c: Completion, defaultOutputJson: string): Answer {
  if (c.status === CompletionStatus.OK) {
    return {
      json: `{"query_id":${c.query_id},"output":${embedJson(c.payload)},"default":false}`,
      default: false,
    };
  }
  return {
    json: `{"query_id":${c.query_id},"output":${defaultOutputJson},"default":true,"default_explanation":${
      JSON.stringify(explanation(c))
    }}`,
    default: true,
  };
}

/** The response body: one answer, or `{"batch_predictions": [...]}` in input order. */
export function answersJson(answers: readonly Answer[], batch: boolean): string {
  return batch ? `{"batch_predictions":[${answers.map((a) => a.json).join(",")}]}` : answers[0]!.json;
}
