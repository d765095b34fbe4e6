/**
 * Names and input types: the one place where application names, model names, versions and labels are
 * validated (for every state backend and both APIs), and where input-type aliases are parsed.
 *
 * As in the original Clipper, `,` and `:` are refused in model names, versions and labels (they delimit
 * stored keys and `name:version` ids). Names also travel in URL paths (`/{app}/predict`), so they keep to a
 * safe alphabet; the original server had no length limit, 128 is ours. Aliases match the original's
 * `parse_input_type` exactly (case-sensitive). Must not know about HTTP or storage.
 */

import { z } from "zod";
import type { CoreInputType } from "./core/core.ts";

export type InputType = CoreInputType;

const ALIASES: Readonly<Record<string, InputType>> = {
  bytes: "bytes",
  byte: "bytes",
  b: "bytes",
  ints: "ints",
  integers: "ints",
  int: "ints",
  integer: "ints",
  i: "ints",
  floats: "floats",
  float: "floats",
  f: "floats",
  doubles: "doubles",
  double: "doubles",
  d: "doubles",
  strings: "strings",
  string: "strings",
  str: "strings",
  strs: "strings",
  s: "strings",
};

/** The canonical input type for an alias (`"integers"` → `"ints"`), or undefined. */
export function parseInputType(text: string): InputType | undefined {
  return Object.hasOwn(ALIASES, text) ? ALIASES[text] : undefined;
}

/** The rules, as the `expected …` part of a rejection. */
export const RULES = {
  name: "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
  version: "1 to 128 characters other than spaces, ',' and ':'",
  input_type: "one of bytes, ints, floats, doubles, strings or an alias (integers, i, d, str, …)",
} as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const VERSION = /^[^,:\s]{1,128}$/;

/** An input type alias, parsed to its canonical name. */
export const inputTypeSchema = z.string({ error: RULES.input_type }).transform((text, ctx) => {
  const type = parseInputType(text);
  if (type === undefined) {
    ctx.addIssue({ code: "custom", message: RULES.input_type });
    return z.NEVER;
  }
  return type;
});

/** Application and model names. */
export const nameSchema = z.string({ error: RULES.name }).regex(NAME, { error: RULES.name });

/** Model versions. */
export const versionSchema = z.string({ error: RULES.version }).regex(VERSION, { error: RULES.version });

/** Model labels: the same rule as versions. */
export const labelSchema = versionSchema;
