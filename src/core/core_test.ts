import assert from "node:assert/strict";
import { CompletionStatus, NativeError, ServingCore, Status } from "./core.ts";
import { InputBatch } from "./input_batch.ts";

/** A batch of `count` UTF-8 inputs of `length` bytes each. */
function batchOf(count: number, length: number): InputBatch {
  const batch = new InputBatch();
  for (let i = 0; i < count; i++) batch.addUtf8("x".repeat(length));
  return batch;
}

function freeEndpoint(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `tcp://127.0.0.1:${port}`;
}

function open(max_outstanding_queries = 100): ServingCore {
  return ServingCore.open({
    rpc_endpoint: freeEndpoint(),
    replica_timeout_millis: 30_000,
    busy_replica_timeout_millis: 300_000,
    max_outstanding_queries,
    prediction_cache_bytes: 1 << 20,
  });
}

Deno.test("queries for a model with no replica are answered at once, each with its own id", async () => {
  const core = open();
  try {
    const model = core.configureModel("m", "1", "doubles", -1, 100_000);
    const answers = await Promise.all(core.submit(model, 1_000_000, batchOf(2, 8)));
    assert.deepEqual(answers.map((a) => a.status), [
      CompletionStatus.NO_CONNECTED_MODEL,
      CompletionStatus.NO_CONNECTED_MODEL,
    ]);
    assert.equal(new Set(answers.map((a) => a.query_id)).size, 2);
  } finally {
    await core.close();
  }
});

Deno.test("a refused submit throws with the core's status and message", async () => {
  const core = open(1);
  try {
    assert.throws(
      () => core.submit(42, 1000, batchOf(1, 1)),
      (e: unknown) =>
        e instanceof NativeError && e.status === Status.UNKNOWN_MODEL && e.message.includes("42"),
    );
    const model = core.configureModel("m", "1", "ints", 1, 1000);
    assert.throws(
      () => core.submit(model, 1000, batchOf(2, 4)),
      (e: unknown) => e instanceof NativeError && e.status === Status.OVERLOADED,
    );
    assert.throws(
      () => core.configureModel("m", "1", "ints", 0, 1000),
      (e: unknown) =>
        e instanceof NativeError && e.status === Status.INVALID_ARGUMENT && e.message.includes("batch size"),
    );
  } finally {
    await core.close();
  }
});

Deno.test("binding an endpoint already in use fails naming the endpoint", async () => {
  const endpoint = freeEndpoint();
  const first = ServingCore.open({
    rpc_endpoint: endpoint,
    replica_timeout_millis: 1,
    busy_replica_timeout_millis: 1,
    max_outstanding_queries: 1,
    prediction_cache_bytes: 0,
  });
  try {
    assert.throws(
      () =>
        ServingCore.open({
          rpc_endpoint: endpoint,
          replica_timeout_millis: 1,
          busy_replica_timeout_millis: 1,
          max_outstanding_queries: 1,
          prediction_cache_bytes: 0,
        }),
      (e: unknown) =>
        e instanceof NativeError && e.status === Status.BIND_FAILED && e.message.includes(endpoint),
    );
  } finally {
    await first.close();
  }
});

Deno.test("a closed core refuses submissions", async () => {
  const core = open();
  const model = core.configureModel("m", "1", "strings", -1, 1000);
  await core.close();
  assert.throws(
    () => core.submit(model, 1000, batchOf(1, 1)),
    (e: unknown) => e instanceof NativeError && e.status === Status.CLOSED,
  );
});

Deno.test("a library that is missing is reported with the way to build it", () => {
  assert.throws(
    () =>
      ServingCore.open({
        rpc_endpoint: "tcp://127.0.0.1:1",
        replica_timeout_millis: 1,
        busy_replica_timeout_millis: 1,
        max_outstanding_queries: 1,
        prediction_cache_bytes: 0,
        library_path: "/nonexistent/libclipper_core.so",
      }),
    /deno task build:native/,
  );
});

Deno.test("closing twice at once frees the core once (two signals during shutdown)", async () => {
  const core = open();
  core.configureModel("m", "1", "doubles", -1, 100_000);
  await Promise.all([core.close(), core.close()]);
  await core.close();
});
