/**
 * Answers: turns a query's completion into the original Clipper's response object
 * `{query_id, output, default, default_explanation?}`. A model's output (and a default output) is embedded
 * as JSON when it parses as JSON, else as a string. Owns the default explanations' wording, which clients
 * of the original match on.
 */

import { type Completion, CompletionStatus } from "../../core/core.ts";

export const EXPLANATION_SLO_MISSED =
  "Failed to retrieve a prediction response within the specified latency SLO";
export const EXPLANATION_NO_MODEL = "No connected models found for query";

export interface Answer {
  query_id: number;
  output: unknown;
  default: boolean;
  default_explanation?: string;
}

/** Embeds text as JSON when it parses, else as the string itself. */
export function embedOutput(text: string): unknown {
  const first = text.trimStart()[0];
  // Only try to parse what could be JSON; parse errors are slow and bare words are common outputs.
  if (first === undefined || !'{["-0123456789tfn'.includes(first)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function explanation(c: Completion): string {
  switch (c.status) {
    case CompletionStatus.DEADLINE_MISSED:
      return EXPLANATION_SLO_MISSED;
    case CompletionStatus.NO_CONNECTED_MODEL:
      return EXPLANATION_NO_MODEL;
    default:
      return c.payload;
  }
}

export function toAnswer(c: Completion, defaultOutput: string): Answer {
  if (c.status === CompletionStatus.OK) {
    return { query_id: c.query_id, output: embedOutput(c.payload), default: false };
  }
  return {
    query_id: c.query_id,
    output: embedOutput(defaultOutput),
    default: true,
    default_explanation: explanation(c),
  };
}
