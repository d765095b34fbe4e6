/**
 * Container configuration from the original Clipper's environment (CLIPPER_MODEL_NAME,
 * CLIPPER_MODEL_VERSION, CLIPPER_INPUT_TYPE, CLIPPER_IP, CLIPPER_PORT, CLIPPER_MODEL_PATH) and ours
 * (CLIPPER_REPLICA), with explicit
 * overrides. Every error names the variable and the value, so a misconfigured container says what to fix.
 */

import type { InputTypeName } from "./rpc.ts";

export interface Config {
  readonly model_name: string;
  readonly model_version: string;
  readonly input_type: InputTypeName;
  readonly host: string;
  readonly port: number;
  readonly model_path?: string;
  /** The replica's number as the process manager that started it counts (CLIPPER_REPLICA); the frontend
   * names the replica by it, so its logs and the management API agree. Unset when run by hand. */
  readonly replica?: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const ALIASES: Record<string, InputTypeName> = {};
for (
  const [type, aliases] of Object.entries({
    bytes: ["bytes", "byte", "b"],
    ints: ["ints", "integers", "int", "integer", "i"],
    floats: ["floats", "float", "f"],
    doubles: ["doubles", "double", "d"],
    strings: ["strings", "string", "str", "strs", "s"],
  })
) for (const alias of aliases) ALIASES[alias] = type as InputTypeName;

export function parseInputType(value: string): InputTypeName | undefined {
  return ALIASES[value.trim().toLowerCase()] ??
    (["bytes", "ints", "floats", "doubles", "strings"] as const)[Number(value)];
}

/** Builds the configuration from `env` (normally `Deno.env.toObject()`), then `overrides`. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: Partial<Config> = {},
): Config {
  const required = (variable: string, explicit?: string) => {
    const value = explicit ?? env[variable];
    if (!value) {
      throw new ConfigError(
        `${variable} is not set; a container needs CLIPPER_MODEL_NAME and CLIPPER_MODEL_VERSION`,
      );
    }
    return value;
  };
  const rawType = env.CLIPPER_INPUT_TYPE;
  const input_type = overrides.input_type ??
    (rawType === undefined ? "doubles" : parseInputType(rawType));
  if (input_type === undefined) {
    throw new ConfigError(
      `CLIPPER_INPUT_TYPE="${rawType}" is invalid: expected one of bytes, ints, floats, doubles, strings`,
    );
  }
  const rawPort = env.CLIPPER_PORT;
  const port = overrides.port ??
    (rawPort === undefined ? 7000 : Number(rawPort));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(
      `CLIPPER_PORT="${rawPort}" is invalid: expected an integer TCP port between 1 and 65535`,
    );
  }
  const rawReplica = env.CLIPPER_REPLICA;
  const replica = overrides.replica ?? (rawReplica === undefined ? undefined : Number(rawReplica));
  if (replica !== undefined && (!Number.isInteger(replica) || replica < 0 || replica >= 2 ** 32)) {
    throw new ConfigError(`CLIPPER_REPLICA="${rawReplica}" is invalid: expected a non-negative integer`);
  }
  return Object.freeze({
    model_name: required("CLIPPER_MODEL_NAME", overrides.model_name),
    model_version: required("CLIPPER_MODEL_VERSION", overrides.model_version),
    input_type,
    host: overrides.host ?? env.CLIPPER_IP ?? "127.0.0.1",
    port,
    model_path: overrides.model_path ?? env.CLIPPER_MODEL_PATH,
    replica,
  });
}
