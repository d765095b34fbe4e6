/**
 * The servers a scenario measures, started on free loopback ports: Clipper itself (frontend, one app, one
 * model, its Python container) and the bare `Deno.serve` ceiling. Owns how a benchmark configures Clipper
 * through the admin API; must not generate load.
 */

import { freePort, spawn, type Started, waitUntil } from "./processes.ts";

const root = new URL("../..", import.meta.url).pathname;
export const PYTHON = `${root}.venv/bin/python`;

export interface ModelSetup {
  /** `-m module` or a script path, run with the Python of `.venv`. */
  readonly container: string[];
  readonly input_type: string;
  readonly latency_slo_micros: number;
  /** -1: adaptive. */
  readonly batch_size: number;
  /** How adaptive batches are sized ("aimd" when absent). */
  readonly batching?: "aimd" | "quantile";
  /** How long an idle replica waits for more queries (0 when absent). */
  readonly batch_delay_micros?: number;
  /** Threads serving the frontend's query port (the frontend's default when absent). */
  readonly threads?: number;
  /** CPUs the frontend runs on (`taskset -c`; all when absent). */
  readonly cpus?: string;
  /** 0 turns the prediction cache off. */
  readonly prediction_cache_bytes: number;
  /** An input the model accepts, sent until it answers, to know the container is serving. */
  readonly probe_input: unknown;
  /** The model names linked to the app ("m" alone when absent). */
  readonly models?: readonly string[];
  /** Containers per model (1 when absent): replicas of one version. */
  readonly replicas?: number;
  /** The app's selection policy and its params (the default policy when absent). */
  readonly policy?: { readonly name: string; readonly params?: Record<string, unknown> };
}

export interface Clipper {
  readonly url: string;
  readonly frontend: Started;
  /** The first model's container. */
  readonly container: Started;
  readonly containers: readonly Started[];
  /** The command lines used, for the report. */
  readonly commands: string[];
}

async function post(url: string, body: unknown): Promise<void> {
  const r = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${text}`);
}

/** Where the frontend comes from and what the container's environment adds: the probes (bench/probes) run
 * another revision's tree (`tree`, ending in "/") or another container library (`PYTHONPATH`). */
export interface ClipperOrigin {
  readonly tree?: string;
  readonly container_env?: Record<string, string>;
}

/** `deno` arguments that run the frontend of `tree` (ending in "/") on these ports and state directory. */
export function frontendArgs(
  tree: string,
  ports: { query: number; admin: number; rpc: number },
  state_dir: string,
): string[] {
  return [
    "run",
    "--allow-all",
    `${tree}src/main.ts`,
    "--query-port",
    String(ports.query),
    "--admin-port",
    String(ports.admin),
    "--rpc-port",
    String(ports.rpc),
    "--state-dir",
    state_dir,
  ];
}

/** Starts a frontend with app "bench" linked to model "m:1", served by one container; waits for answers. */
export async function startClipper(
  setup: ModelSetup,
  log_dir: string,
  origin: ClipperOrigin = {},
): Promise<Clipper> {
  const tree = origin.tree ?? root;
  const [query, admin, rpc] = [freePort(), freePort(), freePort()];
  const args = [
    ...frontendArgs(tree, { query, admin, rpc }, await Deno.makeTempDir({ prefix: "clipper-bench-" })),
    "--prediction-cache-bytes",
    String(setup.prediction_cache_bytes),
    ...(setup.threads === undefined ? [] : ["--threads", String(setup.threads)]),
  ];
  const [command, command_args] = setup.cpus === undefined
    ? [Deno.execPath(), args]
    : ["taskset", ["-c", setup.cpus, Deno.execPath(), ...args]];
  // Run from its tree, so that Deno reads that tree's deno.json and lock file.
  const frontend = await spawn("frontend", command, command_args, {
    log_path: `${log_dir}/frontend.log`,
    cwd: tree,
  });
  const url = `http://127.0.0.1:${query}`;
  const adminUrl = `http://127.0.0.1:${admin}/admin`;
  await waitUntil("the frontend", async () => {
    const r = await fetch(`${url}/health`);
    await r.body?.cancel();
    return r.ok;
  });
  const models = setup.models ?? ["m"];
  await post(`${adminUrl}/add_app`, {
    name: "bench",
    input_type: setup.input_type,
    default_output: "-1",
    latency_slo_micros: setup.latency_slo_micros,
    policy: setup.policy?.name,
    policy_params: setup.policy?.params,
  });
  for (const model_name of models) {
    await post(`${adminUrl}/add_model`, {
      model_name,
      model_version: "1",
      labels: [],
      input_type: setup.input_type,
      container_name: "bench",
      model_data_path: "/tmp",
      batch_size: setup.batch_size,
      ...(setup.batching === undefined ? {} : { batching: setup.batching }),
      ...(setup.batch_delay_micros === undefined ? {} : { batch_delay_micros: setup.batch_delay_micros }),
    });
  }
  await post(`${adminUrl}/add_model_links`, { app_name: "bench", model_names: models });
  const envOf = (model: string) => ({
    CLIPPER_MODEL_NAME: model,
    CLIPPER_MODEL_VERSION: "1",
    CLIPPER_IP: "127.0.0.1",
    CLIPPER_PORT: String(rpc),
    CLIPPER_INPUT_TYPE: setup.input_type,
    ...origin.container_env,
  });
  const containers: Started[] = [];
  const replicas = setup.replicas ?? 1;
  for (const [i, model] of models.entries()) {
    for (let r = 0; r < replicas; r++) {
      const suffix = (i === 0 ? "" : `-${model}`) + (r === 0 ? "" : `-${r}`);
      containers.push(
        await spawn(`container${suffix}`, PYTHON, setup.container, {
          env: envOf(model),
          log_path: `${log_dir}/container${suffix}.log`,
        }),
      );
    }
  }
  // Every model connected (with several, a drawn one could answer before the others are there), then answering.
  await waitUntil("the models' containers to connect", async () => {
    const health = await (await fetch(`${url}/health`)).json();
    return health.connected_replicas >= models.length * replicas;
  }, 60_000);
  await waitUntil("the models to answer", async () => {
    const r = await fetch(`${url}/bench/predict`, {
      method: "POST",
      body: JSON.stringify({ input: setup.probe_input }),
    });
    return (await r.text()).includes('"default":false');
  }, 60_000);
  const env = envOf(models.join(","));
  const envText = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ");
  return {
    url,
    frontend,
    container: containers[0]!,
    containers,
    commands: [
      `deno ${args.join(" ").replace(tree, "")}`,
      `${envText} .venv/bin/python ${setup.container.join(" ").replace(root, "")}`,
    ],
  };
}

/** Starts the bare `Deno.serve` ceiling (bench/ceiling.ts). */
/**
 * Starts the second ceiling: a bare hyper server built with the core's own hyper and thread layout, which
 * parses the body with the core's parser (`native/core/src/bin/hyper_ceiling.rs`, built by
 * `deno task build:native`).
 */
export async function startHyperCeiling(log_dir: string): Promise<{ url: string; server: Started }> {
  const port = freePort();
  const server = await spawn("hyper-ceiling", HYPER_CEILING, [String(port)], {
    log_path: `${log_dir}/hyper_ceiling.log`,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil("the hyper ceiling server", async () => {
    const r = await fetch(`${url}/bench/predict`, { method: "POST", body: '{"input": [1]}' });
    await r.body?.cancel();
    return r.status === 200;
  });
  return { url, server };
}

export const HYPER_CEILING = `${root}native/target/release/hyper_ceiling`;

export async function startCeiling(log_dir: string): Promise<{ url: string; server: Started }> {
  const port = freePort();
  const server = await spawn("ceiling", Deno.execPath(), [
    "run",
    "--allow-net",
    `${root}bench/ceiling.ts`,
    String(port),
  ], {
    log_path: `${log_dir}/ceiling.log`,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil("the ceiling server", async () => {
    const r = await fetch(url, { method: "POST", body: '{"input": [1]}' });
    await r.body?.cancel();
    return r.status === 200;
  });
  return { url, server };
}
