/**
 * `deno task serve`: builds the configuration, opens the serving core (which binds the RPC port), loads
 * state into the routing table, and serves the query API and the management API until SIGINT or SIGTERM.
 *
 * Owns start-up order and shutdown; every other module receives what it needs from here.
 */

import { type Config, ConfigError, loadConfig, usage } from "./config.ts";
import { ServingCore } from "./core/core.ts";
import { Metrics } from "./metrics/registry.ts";
import { Routes } from "./routing/routes.ts";
import { syncRoutes } from "./routing/sync.ts";
import { EmbeddedBackend } from "./state/embedded.ts";
import { RedisBackend } from "./state/redis.ts";
import { State } from "./state/store.ts";
import { createAdminApi } from "./api/admin/routes.ts";
import { createQueryApi } from "./api/query/routes.ts";
import { installCommon } from "./api/http.ts";
import { ContainerManager, type ReplicaSpec } from "./containers/manager.ts";
import type { StateData } from "./state/store.ts";
import { Hono } from "hono";
import { LearnedStates } from "./selection/learned.ts";
import { seededRng } from "./policy/rng.ts";

export interface RunningServer {
  readonly query_port: number;
  readonly admin_port: number;
  /** Settles when the serving core fails (its thread panicked); never for a core that keeps working. */
  readonly failed: Promise<Error>;
  /** Makes the core thread panic; refused unless it started with CLIPPER_CORE_FAULT_INJECTION=1. */
  injectCorePanic(): void;
  close(): Promise<void>;
}

/** The admin token: the flag's, the token file's (trimmed), or none. */
async function adminToken(config: Config): Promise<string> {
  if (config.admin_token_file === "") return config.admin_token;
  let token: string;
  try {
    token = (await Deno.readTextFile(config.admin_token_file)).trim();
  } catch (err) {
    throw new Error(
      `Cannot read the admin token file "${config.admin_token_file}": ${(err as Error).message}`,
    );
  }
  if (token.length < 16) {
    throw new Error(`The admin token in "${config.admin_token_file}" is shorter than 16 characters`);
  }
  return token;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function startServer(config: Config): Promise<RunningServer> {
  const admin_token = await adminToken(config);
  if (admin_token === "" && !LOOPBACK.has(config.host)) {
    console.error(
      `WARNING: the management API on ${config.host}:${config.admin_port} takes writes from anyone who can ` +
        "reach it, deploying code included; set --admin-token or --admin-token-file (CLIPPER_ADMIN_TOKEN)",
    );
  }
  // State first: a bad state file must stop start-up before any port is bound.
  const state = new State(
    config.redis ? await RedisBackend.open(config.redis) : await EmbeddedBackend.open(config.state_dir),
  );
  const core = ServingCore.open({
    rpc_endpoint: `tcp://${config.host}:${config.rpc_port}`,
    replica_timeout_millis: config.replica_timeout_millis,
    busy_replica_timeout_millis: config.busy_replica_timeout_millis,
    max_outstanding_queries: config.max_outstanding_queries,
    max_outstanding_per_model: config.max_outstanding_per_model,
    prediction_cache_bytes: config.prediction_cache_bytes,
    max_frame_bytes: config.max_frame_bytes,
    library_path: config.native_library || undefined,
  });
  // What the policies learned, loaded before the first routes are published so the core serves with it.
  const learned = await LearnedStates.open(state.backend, seededRng(Date.now() >>> 0));
  const routes = new Routes(core, learned);
  const metrics = new Metrics();
  const manager = await ContainerManager.create({
    // Replicas run on this machine: a wildcard bind address is reached through loopback.
    rpc_host: config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host,
    rpc_port: config.rpc_port,
    log_dir: `${config.state_dir}/logs`,
    log_max_bytes: config.replica_log_bytes,
    log_files: config.replica_log_files,
  });
  let reconciling = Promise.resolve();
  const stopSync = await syncRoutes(state, routes, (applied, data) => {
    metrics.retainApps(new Set(applied.apps.map((app) => app.name)));
    if (config.manage_replicas) {
      const specs = replicaSpecs(data);
      // One failed reconcile must not stop the later ones, so the chain always settles.
      reconciling = reconciling
        .then(() => manager.reconcile(specs))
        .catch((err) => console.error(`Cannot reconcile model replicas: ${(err as Error).message}`));
    }
  });

  const queryApi = createQueryApi({
    routes,
    rng: seededRng((Date.now() >>> 0) ^ 0x9e3779b9),
    core,
    metrics,
    max_body_bytes: config.max_body_bytes,
    state_healthy: () => state.backend.healthy(),
  });
  const adminApi = new Hono();
  installCommon(adminApi);
  adminApi.route(
    "/admin",
    createAdminApi({
      state,
      replicas: () => core.snapshot().replicas,
      managed: () => manager.list(),
      log_path: (name, version, index) => manager.logPath(name, version, index),
      learned: (app, uid) => learned.state(app, uid),
      admin_token,
      max_body_bytes: config.max_body_bytes,
    }),
  );

  const serve = (hostname: string, port: number, app: Hono) =>
    Deno.serve({ hostname, port, onListen: () => {} }, app.fetch);
  // The core serves the query port and forwards to this server what it does not answer itself, and the
  // admin port, forwarding everything to the second: plain HTTP, as it never leaves the host.
  const query = serve("127.0.0.1", 0, queryApi);
  const admin = serve("127.0.0.1", 0, adminApi);
  let query_port: number;
  let admin_port: number;
  try {
    const front = {
      host: config.host,
      max_body_bytes: config.max_body_bytes,
      header_read_timeout_millis: config.header_read_timeout_millis,
      body_read_timeout_millis: config.body_read_timeout_millis,
      idle_timeout_millis: config.idle_timeout_millis,
      max_connections: config.max_connections,
      tls_cert: config.tls_cert,
      tls_key: config.tls_key,
    };
    query_port = core.startHttp({
      ...front,
      port: config.query_port,
      fallback_port: query.addr.port,
      threads: config.threads,
    });
    admin_port = core.startHttp({
      ...front,
      port: config.admin_port,
      fallback_port: admin.addr.port,
      admin: true,
    });
  } catch (err) {
    await core.stopHttp(0);
    await Promise.all([query.shutdown(), admin.shutdown()]);
    stopSync();
    await core.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    query_port,
    admin_port,
    failed: core.failed,
    injectCorePanic: () => core.debugPanic(),
    // Once: `deno task` forwards a signal to this process, so a group's SIGTERM can arrive twice.
    close: () =>
      closing ??= (async () => {
        // First, while the frontend still answers what the port forwards to it.
        await core.stopHttp(config.drain_timeout_millis);
        await Promise.all([query.shutdown(), admin.shutdown()]);
        stopSync();
        await reconciling;
        await manager.stopAll();
        // What was learned since the last batch, before the store closes.
        await learned.close();
        await state.backend.close();
        await core.close();
      })(),
  };
}

/** The replicas the configuration asks the container manager to run. */
function replicaSpecs(data: StateData): ReplicaSpec[] {
  return Object.entries(data.replicas).flatMap(([label, plan]) => {
    const v = data.versions[label];
    if (!v || plan.num_replicas === 0) return [];
    return [{
      model_name: v.model_name,
      model_version: v.model_version,
      input_type: v.input_type,
      model_data_path: v.model_data_path,
      command: v.container_command,
      num_replicas: plan.num_replicas,
      gpus: plan.gpus,
    }];
  });
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage());
    Deno.exit(0);
  }
  let config: Config;
  try {
    config = loadConfig(Deno.args, Deno.env.toObject());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    Deno.exit(2);
  }
  let server: RunningServer;
  try {
    server = await startServer(config);
  } catch (err) {
    console.error(`Cannot start Clipper: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const scheme = config.tls_cert === "" ? "http" : "https";
  console.log(
    `Clipper is serving: queries on ${scheme}://${config.host}:${server.query_port}, ` +
      `management on ${scheme}://${config.host}:${server.admin_port}/admin, ` +
      `model containers on tcp://${config.host}:${config.rpc_port}`,
  );
  const stop = async () => {
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // The fault-injection trigger (tests/core_panic_test.ts): a signal, so only the process's owner can pull
  // it, and the core ignores it unless it started with CLIPPER_CORE_FAULT_INJECTION=1.
  Deno.addSignalListener("SIGUSR2", () => {
    try {
      server.injectCorePanic();
    } catch (err) {
      console.error(`Ignoring SIGUSR2: ${(err as Error).message}`);
    }
  });
  // A failed core is not restarted here (README, "Shutdown and restarts"): drain what can be, then exit
  // non-zero (EX_SOFTWARE) for the supervisor to start a fresh process from the durable state.
  server.failed.then(async (err) => {
    console.error(`Clipper is stopping for a restart: ${err.message}`);
    try {
      await server.close();
    } finally {
      Deno.exit(70);
    }
  });
}
