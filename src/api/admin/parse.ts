/**
 * Request-body validation for the management API: runs an endpoint's zod schema and turns the first
 * problem into one `invalid_request` whose cause names the field, the rule and the value sent
 * (`Invalid "latency_slo_micros": expected a positive integer, got "abc"`).
 *
 * Owns the wording of validation failures only; the schemas live with the routes, name rules in
 * `src/names.ts`.
 */

import type { z } from "zod";
import { ClipperError } from "../../errors.ts";

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value = body;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** zod's own wording ("Too small: expected number to be >=0") reduced to the rule ("expected …"). */
function rule(message: string): string {
  const stripped = message.replace(/^(Invalid input|Too small|Too big|Invalid string): /, "")
    .replace(/, received \w+$/, "");
  return stripped.startsWith("expected") ? stripped : `expected ${stripped}`;
}

/** A short rendering of what the client sent, for the cause. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Validates `body` against `schema`, or throws `invalid_request` naming the first bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join(".") || "body";
  const got = valueAt(body, issue.path);
  const seen = got === undefined ? "but it is missing" : `got ${shown(got)}`;
  throw new ClipperError("invalid_request", `Invalid "${field}": ${rule(issue.message)}, ${seen}`);
}
