/**
 * Reading model outputs and labels as JSON values: the number a text is, as the serving core reads it, so
 * a mean (`combine.ts`) and a loss (`loss.ts`) agree with the core on what counts as a number.
 */

const JSON_SPACE = /^[ \t\n\r]+|[ \t\n\r]+$/g;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Text without JSON's surrounding whitespace. */
export function trimJson(text: string): string {
  return text.replace(JSON_SPACE, "");
}

/** The finite number `text` is when, trimmed, it is a JSON number (`" 6.0 "` is 6; `1e999` is none). */
export function jsonNumber(text: string): number | undefined {
  const trimmed = trimJson(text);
  if (!JSON_NUMBER.test(trimmed)) return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : undefined;
}
