/**
 * Scoring feedback: a model's output against the label a user sent, as a loss in [0, 1] (0 is right).
 * zero_one is 0 on an equal answer; squared is `min(1, ((output - label) / loss_scale)^2)`.
 */

import { jsonNumber, trimJson } from "./json_text.ts";
import type { LossParams } from "./params.ts";

/** The output's value as text: a JSON string's contents (`"\"cat\""` is `cat`), else the trimmed text. */
function scalar(output: string): string {
  const trimmed = trimJson(output);
  if (trimmed.startsWith('"')) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (typeof value === "string") return trimJson(value);
    } catch {
      // Not a JSON string: the text itself.
    }
  }
  return trimmed;
}

function labelNumber(label: number | string): number | undefined {
  return typeof label === "number" ? label : jsonNumber(label);
}

export function loss(params: LossParams, output: string, label: number | string): number {
  const text = scalar(output);
  const got = jsonNumber(text);
  const want = labelNumber(label);
  if (params.loss === "squared") {
    // An output that is not a number is as wrong as an answer can be.
    if (got === undefined || want === undefined) return 1;
    return Math.min(1, ((got - want) / params.loss_scale) ** 2);
  }
  if (got !== undefined && want !== undefined) return got === want ? 0 : 1;
  return text === (typeof label === "number" ? String(label) : trimJson(label)) ? 0 : 1;
}

/** Why `label` cannot be scored by the app's loss, or undefined when it can. */
export function checkLabel(params: LossParams, label: unknown): string | undefined {
  const finite = typeof label === "number" && Number.isFinite(label);
  if (params.loss === "squared" ? finite : finite || typeof label === "string") return undefined;
  const expected = params.loss === "squared" ? "a finite number" : "a number or a string";
  return `Invalid "label": expected ${expected} for the ${params.loss} loss, got ${
    JSON.stringify(label) ?? "nothing"
  }`;
}
