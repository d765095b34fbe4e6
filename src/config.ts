/**
 * Configuration: one frozen, zod-validated object built at start-up from flags, then environment
 * variables, then defaults, and passed down. A bad value fails naming the flag, the variable and the value.
 * Units live in names. Must not be read from anywhere but `main.ts`; modules receive what they need.
 */

import { parseArgs } from "node:util";
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65535);
const positive = z.coerce.number().int().positive();

/** Every setting: its flag, its environment variable, its default and its rule. */
const FIELDS = {
  host: {
    env: "CLIPPER_HOST",
    fallback: "127.0.0.1",
    rule: z.string().min(1),
    what: "a host name or address",
  },
  query_port: { env: "CLIPPER_QUERY_PORT", fallback: "1337", rule: port, what: "a port from 0 to 65535" },
  admin_port: { env: "CLIPPER_ADMIN_PORT", fallback: "1338", rule: port, what: "a port from 0 to 65535" },
  rpc_port: { env: "CLIPPER_RPC_PORT", fallback: "7000", rule: port, what: "a port from 0 to 65535" },
  max_body_bytes: {
    env: "CLIPPER_MAX_BODY_BYTES",
    fallback: String(16 * 1024 * 1024),
    rule: positive,
    what: "a positive integer",
  },
  // Containers announcing a larger frame are disconnected (the RPC socket reads frames whole). At least
  // --max-body-bytes (checked below): a model that answers with its input, or something as large, must not
  // be cut off on a request the query port accepted. At most 2^30, the core's limit on a whole message.
  max_frame_bytes: {
    env: "CLIPPER_MAX_FRAME_BYTES",
    fallback: String(64 * 1024 * 1024),
    rule: positive.max(2 ** 30),
    what: "a byte count from 1 to 1073741824, no less than --max-body-bytes",
  },
  replica_timeout_millis: {
    env: "CLIPPER_REPLICA_TIMEOUT_MILLIS",
    fallback: "30000",
    rule: positive,
    what: "a positive integer",
  },
  busy_replica_timeout_millis: {
    env: "CLIPPER_BUSY_REPLICA_TIMEOUT_MILLIS",
    fallback: "300000",
    rule: positive,
    what: "a positive integer",
  },
  max_outstanding_queries: {
    env: "CLIPPER_MAX_OUTSTANDING_QUERIES",
    fallback: "100000",
    rule: positive,
    what: "a positive integer",
  },
  max_outstanding_per_model: {
    env: "CLIPPER_MAX_OUTSTANDING_PER_MODEL",
    fallback: "50000",
    rule: positive,
    what: "a positive integer",
  },
  header_read_timeout_millis: {
    env: "CLIPPER_HEADER_READ_TIMEOUT_MILLIS",
    fallback: "10000",
    rule: positive,
    what: "a positive integer",
  },
  body_read_timeout_millis: {
    env: "CLIPPER_BODY_READ_TIMEOUT_MILLIS",
    fallback: "30000",
    rule: positive,
    what: "a positive integer",
  },
  idle_timeout_millis: {
    env: "CLIPPER_IDLE_TIMEOUT_MILLIS",
    fallback: "60000",
    rule: positive,
    what: "a positive integer",
  },
  // Half the cores, up to 8: the other half is for the engine's thread and the model containers, which
  // share the host in the common single-machine deployment (README "Threads").
  threads: {
    env: "CLIPPER_THREADS",
    fallback: String(Math.min(8, Math.max(1, Math.floor(navigator.hardwareConcurrency / 2)))),
    rule: z.coerce.number().int().min(1).max(256),
    what: "a thread count from 1 to 256",
  },
  max_connections: {
    env: "CLIPPER_MAX_CONNECTIONS",
    fallback: "4096",
    rule: positive,
    what: "a positive integer",
  },
  prediction_cache_bytes: {
    env: "CLIPPER_PREDICTION_CACHE_BYTES",
    fallback: String(32 * 1024 * 1024),
    rule: z.coerce.number().int().min(0),
    what: "a byte count, 0 to turn the cache off",
  },
  redis: {
    env: "CLIPPER_REDIS",
    fallback: "",
    rule: z.union([z.literal(""), z.string().regex(/^rediss?:\/\/\S+$/)]),
    what: "a redis:// URL, or nothing for the embedded store",
  },
  manage_replicas: {
    env: "CLIPPER_MANAGE_REPLICAS",
    fallback: "true",
    rule: z.enum(["true", "false"]).transform((v) => v === "true"),
    what: '"true" or "false"',
  },
  replica_log_bytes: {
    env: "CLIPPER_REPLICA_LOG_BYTES",
    fallback: String(10 * 1024 * 1024),
    rule: positive,
    what: "a positive byte count: a managed replica's log rotates past it",
  },
  replica_log_files: {
    env: "CLIPPER_REPLICA_LOG_FILES",
    fallback: "3",
    rule: positive.max(100),
    what: "how many files of each replica's log are kept, 1 to 100",
  },
  state_dir: {
    env: "CLIPPER_STATE_DIR",
    fallback: "state",
    rule: z.string().min(1),
    what: "a directory path",
  },
  native_library: { env: "CLIPPER_NATIVE_LIBRARY", fallback: "", rule: z.string(), what: "a file path" },
  admin_token: {
    env: "CLIPPER_ADMIN_TOKEN",
    fallback: "",
    rule: z.union([z.literal(""), z.string().min(16)]),
    what:
      "a token of at least 16 characters that admin calls must send as `Authorization: Bearer`, or nothing",
    secret: true,
  },
  admin_token_file: {
    env: "CLIPPER_ADMIN_TOKEN_FILE",
    fallback: "",
    rule: z.string(),
    what: "a file holding the admin token (instead of --admin-token)",
  },
  drain_timeout_millis: {
    env: "CLIPPER_DRAIN_TIMEOUT_MILLIS",
    fallback: "10000",
    rule: positive.max(2 ** 32 - 1),
    what: "a positive integer of milliseconds, at most 4294967295",
  },
  tls_cert: {
    env: "CLIPPER_TLS_CERT",
    fallback: "",
    rule: z.string(),
    what: "a PEM certificate chain file: the query and admin ports speak HTTPS (with --tls-key)",
  },
  tls_key: {
    env: "CLIPPER_TLS_KEY",
    fallback: "",
    rule: z.string(),
    what: "the PEM private key of --tls-cert",
  },
} as const;

type Fields = typeof FIELDS;
export type Config = Readonly<{ [K in keyof Fields]: z.infer<Fields[K]["rule"]> }>;

/** A setting that failed its rule; `main.ts` prints it and exits. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function flagName(key: string): string {
  return key.replaceAll("_", "-");
}

/** The `--help` text, made from the settings table. */
export function usage(): string {
  const lines = Object.entries(FIELDS).map(([key, f]) =>
    `  --${flagName(key)} (${f.env}): ${f.what}; default ${f.fallback === "" ? "none" : `"${f.fallback}"`}`
  );
  return ["Usage: deno task serve [--setting value ...]", "", ...lines].join("\n");
}

/** Builds the configuration from command-line `args` and `env`. */
export function loadConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Config {
  const options = Object.fromEntries(
    Object.keys(FIELDS).map((key) => [flagName(key), { type: "string" as const }]),
  );
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError(`Cannot read the command line: ${(err as Error).message}`);
  }
  const config: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(FIELDS)) {
    const flag = flagName(key);
    const raw = (flags[flag] as string | undefined) ?? env[field.env] ?? field.fallback;
    const parsed = field.rule.safeParse(raw);
    if (!parsed.success) {
      // A secret is never echoed, not even a wrong one.
      const got = "secret" in field ? `a value of ${raw.length} characters` : `"${raw}"`;
      throw new ConfigError(`Invalid setting --${flag} (${field.env}): expected ${field.what}, got ${got}`);
    }
    config[key] = parsed.data;
  }
  if (config.admin_token !== "" && config.admin_token_file !== "") {
    throw new ConfigError(
      "Give the admin token once: --admin-token (CLIPPER_ADMIN_TOKEN) or --admin-token-file",
    );
  }
  if ((config.max_frame_bytes as number) < (config.max_body_bytes as number)) {
    throw new ConfigError(
      `Invalid setting --max-frame-bytes (CLIPPER_MAX_FRAME_BYTES): expected no less than --max-body-bytes (${config.max_body_bytes}), got "${config.max_frame_bytes}"`,
    );
  }
  if ((config.tls_cert === "") !== (config.tls_key === "")) {
    throw new ConfigError(
      "Give both --tls-cert (CLIPPER_TLS_CERT) and --tls-key (CLIPPER_TLS_KEY), or neither",
    );
  }
  return Object.freeze(config) as Config;
}
