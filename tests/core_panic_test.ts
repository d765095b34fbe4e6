/**
 * A panic on the core thread, through the library the server loads: queries waiting on a real container
 * fail at once with CORE_FAILED, the failure is reported with the panic's message and location, and every
 * later call is refused rather than left to hang; a server whose core fails answers the queries it took and
 * exits 70 for its supervisor to restart it. The panic comes from `clipper_debug_panic` (SIGUSR2 for a
 * server), which acts only for a core started with CLIPPER_CORE_FAULT_INJECTION=1 (native/core/src/ffi
 * says why a variable and not a second build).
 */
import assert from "node:assert/strict";
import { NativeError, ServingCore, Status } from "../src/core/core.ts";
import { InputBatch } from "../src/core/input_batch.ts";
import { Container, freePort, Server, waitFor } from "./harness.ts";

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;

/** Runs `start` with CLIPPER_CORE_FAULT_INJECTION=1 in this process's environment (children inherit it). */
async function withFaultInjection<T>(start: () => T | Promise<T>): Promise<T> {
  Deno.env.set("CLIPPER_CORE_FAULT_INJECTION", "1");
  try {
    return await start();
  } finally {
    Deno.env.delete("CLIPPER_CORE_FAULT_INJECTION");
  }
}

function openCore(rpc_port: number): ServingCore {
  return ServingCore.open({
    rpc_endpoint: `tcp://127.0.0.1:${rpc_port}`,
    replica_timeout_millis: 30_000,
    busy_replica_timeout_millis: 300_000,
    max_outstanding_queries: 100,
    prediction_cache_bytes: 0,
    max_frame_bytes: 1 << 20,
  });
}

function strings(count: number): InputBatch {
  const batch = new InputBatch();
  for (let i = 0; i < count; i++) batch.addUtf8("x");
  return batch;
}

/** Settles with the outcome of `promise`, or with "pending" after `millis`. */
function within<T>(promise: Promise<T>, millis: number): Promise<T | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((resolve) => timer = setTimeout(() => resolve("pending"), millis));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("a panic on the core thread fails every waiting query at once and every later call", async () => {
  const rpc_port = freePort();
  const core = await withFaultInjection(() => openCore(rpc_port));
  // A replica that holds each batch for a minute, so the queries are still waiting when the core fails.
  const container = new Deno.Command(python, {
    args: [`${root}tests/containers/slow.py`, "60"],
    env: {
      CLIPPER_MODEL_NAME: "slow",
      CLIPPER_MODEL_VERSION: "1",
      CLIPPER_INPUT_TYPE: "strings",
      CLIPPER_IP: "127.0.0.1",
      CLIPPER_PORT: String(rpc_port),
      PYTHONUNBUFFERED: "1",
    },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    const model = core.configureModel("slow", "1", "strings", {
      batch_size: -1,
      batching: "aimd",
      batch_delay_micros: 0,
    }, 60_000_000);
    const snapshot = () => Promise.resolve(core.snapshot());
    await waitFor(
      "the replica to connect",
      async () => (await snapshot()).replicas.length === 1 || undefined,
    );
    const answers = core.submit(model, 120_000_000, strings(5));
    const waiting = answers.map((a) => Promise.resolve(a).then(() => "answered", (e: unknown) => e));
    await waitFor(
      "the model to take the batch",
      async () => (await snapshot()).inflight_batches > 0 || undefined,
    );

    core.debugPanic();
    // Far sooner than the model (a minute) or the deadline (two) would answer them.
    const failed = await within(Promise.all(waiting), 20_000);
    assert.notEqual(failed, "pending", "every waiting query fails at once");
    for (const err of failed as unknown[]) {
      assert.ok(err instanceof NativeError && err.status === Status.CORE_FAILED, String(err));
      assert.match(err.message, /^The serving core failed: Fault injection/);
    }
    const reported = await within(core.failed, 20_000);
    assert.ok(reported instanceof NativeError, "the core reports its failure");
    assert.match(reported.message, /Fault injection: .* at .*runtime\/mod\.rs:\d+:\d+/);

    assert.throws(
      () => core.submit(model, 1_000_000, strings(1)),
      (e: unknown) => e instanceof NativeError && e.status === Status.CORE_FAILED,
    );
    assert.throws(
      () =>
        core.configureModel("other", "1", "strings", {
          batch_size: -1,
          batching: "aimd",
          batch_delay_micros: 0,
        }, 1000),
      (e: unknown) => e instanceof NativeError && e.status === Status.CORE_FAILED,
    );
  } finally {
    await core.close();
    container.kill("SIGKILL");
    await container.status;
  }
});

Deno.test("a core started without CLIPPER_CORE_FAULT_INJECTION=1 refuses to panic on request", async () => {
  const core = openCore(freePort());
  try {
    assert.throws(
      () => core.debugPanic(),
      (e: unknown) =>
        e instanceof NativeError && e.status === Status.INVALID_ARGUMENT &&
        e.message.includes("CLIPPER_CORE_FAULT_INJECTION=1"),
    );
    assert.equal(await within(core.failed, 100), "pending");
  } finally {
    await core.close();
  }
});

Deno.test("a server whose core panics answers the queries it took at once, then exits 70", async () => {
  const server = await withFaultInjection(() => Server.start());
  let container: Container | undefined;
  try {
    // A model that holds each batch for a minute, far past the moment the core fails.
    container = Container.start(server, "slow.py", "slow", "doubles", { args: ["60"] });
    await server.deploy("slow", "slow", "doubles", { slo_micros: 120_000_000 });
    await server.waitForReplicas("slow");
    const waiting = Array.from({ length: 4 }, () => server.predict("slow", { input: [1, 2] }));
    await waitFor("the model to take the batch", async () => {
      const metrics = (await server.get("/metrics")).body as { core: { inflight_batches: number } };
      return metrics.core.inflight_batches > 0 || undefined;
    });

    server.signal("SIGUSR2");
    const answers = await within(Promise.all(waiting), 20_000);
    assert.notEqual(answers, "pending", "the queries the core held are answered at once");
    for (const r of answers as Awaited<(typeof waiting)[number]>[]) {
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, {
        query_id: (r.body as { query_id: number }).query_id,
        output: -1,
        default: true,
        default_explanation: "The serving core failed; the server is restarting",
      });
    }
    const status = await within(server.exited, 30_000);
    assert.notEqual(status, "pending", "the server exits on its own");
    assert.equal((status as Deno.CommandStatus).code, 70);
  } finally {
    await server.stop();
    await container?.kill();
  }
});
