/**
 * The stored form of the configuration: one schema for every backend, so a corrupt file or an unreadable
 * Redis value is reported the same way, naming where it came from and the key that is wrong.
 */

import { z } from "zod";
import type { Learned, StateData } from "./store.ts";

const inputType = z.enum(["bytes", "ints", "floats", "doubles", "strings"]);
const stateSchema = z.object({
  apps: z.record(
    z.string(),
    z.object({
      name: z.string(),
      input_type: inputType,
      default_output: z.string(),
      latency_slo_micros: z.number().int().positive(),
      policy: z.string(),
      policy_params: z.record(z.string(), z.unknown()).default({}),
    }),
  ),
  versions: z.record(
    z.string(),
    z.object({
      model_name: z.string(),
      model_version: z.string(),
      labels: z.array(z.string()),
      input_type: inputType,
      container_name: z.string(),
      model_data_path: z.string(),
      batch_size: z.number().int(),
      // Absent from configurations stored before batching could be chosen.
      batching: z.enum(["aimd", "quantile"]).default("aimd"),
      batch_delay_micros: z.number().int().min(0).default(0),
      container_command: z.array(z.string()).default([]),
    }),
  ),
  current_versions: z.record(z.string(), z.string()),
  links: z.record(z.string(), z.array(z.string())),
  replicas: z.record(
    z.string(),
    z.object({ num_replicas: z.number().int().min(0), gpus: z.array(z.string()) }),
  ).default({}),
});

/** Parses stored text into state, or throws an error naming `source` and the offending key. */
/** Parses `text` with `schema`; a failure names `source` and the first key that is wrong. */
function parseWith<T>(schema: z.ZodType<T>, text: string, source: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`Cannot read ${source}: it is not JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(
      `Cannot read ${source}: key "${issue.path.map(String).join(".")}" is invalid (${issue.message})`,
    );
  }
  return parsed.data;
}

export function parseState(text: string, source: string): StateData {
  return parseWith(stateSchema, text, source);
}

/** App → uid → a policy's state; the states' own shape is the policies' to check. */
const learnedSchema = z.record(z.string(), z.record(z.string(), z.unknown()));

export function parseLearned(text: string, source: string): Learned {
  return parseWith(learnedSchema, text, source);
}
