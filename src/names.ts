/**
 * Names and input types: the one place where application names, model names, versions and labels are
 * validated (for every state backend and both APIs), and where input-type aliases are parsed.
 *
 * As in the original Clipper, `,` and `:` are refused in model names, versions and labels (they delimit
 * stored keys). App and model names also travel in URL paths, so they are limited to a safe alphabet.
 */

import { z } from "zod";
import type { CoreInputType } from "./core/core.ts";

const ALIASES: Readonly<Record<string, CoreInputType>> = {
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

/** The canonical input type for an alias, or undefined. */
export function parseInputType(text: string): CoreInputType | undefined {
  return ALIASES[text.trim().toLowerCase()];
}

export const inputTypeSchema = z.string().transform((text, ctx) => {
  const type = parseInputType(text);
  if (type === undefined) {
    ctx.addIssue({
      code: "custom",
      message: "expected one of bytes, ints, floats, doubles, strings (or an alias)",
    });
    return z.NEVER;
  }
  return type;
});

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Application and model names: 1 to 128 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const nameSchema = z.string().min(1).max(128).regex(
  NAME,
  "expected letters, digits, '.', '_' or '-', starting with a letter or digit",
);

/** Versions and labels: 1 to 128 printable characters other than `,` and `:`. */
export const versionSchema = z.string().min(1).max(128).regex(
  /^[^,:\s]+$/,
  "expected no spaces and none of ',' or ':'",
);
