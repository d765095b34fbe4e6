import assert from "node:assert/strict";
import {
  CompletionStatus,
  INPUT_TYPE_IDS,
  type NativeApp,
  NativeError,
  type NativeSelection,
  ServingCore,
  Status,
} from "./core.ts";
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
    max_frame_bytes: 1 << 20,
  });
}

Deno.test("queries for a model with no replica are answered at once, each with its own id", async () => {
  const core = open();
  try {
    const model = core.configureModel("m", "1", "doubles", {
      batch_size: -1,
      batching: "aimd",
      batch_delay_micros: 0,
    }, 100_000);
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
    const model = core.configureModel("m", "1", "ints", {
      batch_size: 1,
      batching: "aimd",
      batch_delay_micros: 0,
    }, 1000);
    assert.throws(
      () => core.submit(model, 1000, batchOf(2, 4)),
      (e: unknown) =>
        e instanceof NativeError && e.status === Status.TOO_LARGE &&
        e.message.includes("--max-outstanding-queries"),
    );
    assert.throws(
      () =>
        core.configureModel(
          "m",
          "1",
          "ints",
          { batch_size: 0, batching: "aimd", batch_delay_micros: 0 },
          1000,
        ),
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
    max_frame_bytes: 1 << 20,
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
          max_frame_bytes: 1 << 20,
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
  const model = core.configureModel("m", "1", "strings", {
    batch_size: -1,
    batching: "aimd",
    batch_delay_micros: 0,
  }, 1000);
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
        max_frame_bytes: 1 << 20,
        library_path: "/nonexistent/libclipper_core.so",
      }),
    /deno task build:native/,
  );
});

Deno.test("closing twice at once frees the core once (two signals during shutdown)", async () => {
  const core = open();
  core.configureModel(
    "m",
    "1",
    "doubles",
    { batch_size: -1, batching: "aimd", batch_delay_micros: 0 },
    100_000,
  );
  await Promise.all([core.close(), core.close()]);
  await core.close();
});

/** A core serving the query port, with models a:1 and b:1 configured (no container connects). */
function servingTwoModels(): { core: ServingCore; url: string; members: NativeSelection["members"] } {
  const core = open();
  const members = ["a", "b"].map((name) => ({
    model: core.configureModel(name, "1", "doubles", {
      batch_size: -1,
      batching: "aimd",
      batch_delay_micros: 0,
    }, 100_000),
    label: `${name}:1`,
  }));
  // Nothing listens on the fallback: every request here must be answered natively.
  const port = core.startHttp({
    host: "127.0.0.1",
    port: 0,
    fallback_port: 1,
    max_body_bytes: 1 << 20,
    header_read_timeout_millis: 10_000,
    body_read_timeout_millis: 10_000,
    idle_timeout_millis: 10_000,
    max_connections: 64,
  });
  return { core, url: `http://127.0.0.1:${port}/s/predict`, members };
}

function appWith(selection: NativeSelection | null): NativeApp {
  return {
    name: "s",
    input_type: INPUT_TYPE_IDS.doubles,
    default_output: "-1",
    latency_slo_micros: 1_000_000,
    target: null,
    selection,
  };
}

async function predictText(url: string, body: unknown): Promise<string> {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  assert.equal(response.status, 200);
  return await response.text();
}

Deno.test("user weights are refused for an unknown app, an app without selection or a wrong length", async () => {
  const core = open();
  try {
    const a = core.configureModel("a", "1", "doubles", {
      batch_size: -1,
      batching: "aimd",
      batch_delay_micros: 0,
    }, 100_000);
    const members = [{ model: a, label: "a:1" }];
    core.publishApps([
      { ...appWith(null), name: "plain" },
      appWith({ mode: "one", members, weights: [1] }),
    ]);
    core.setUserWeights("s", "5", [2]);
    const refused = (message: RegExp) => (e: unknown) =>
      e instanceof NativeError && e.status === Status.INVALID_ARGUMENT && message.test(e.message);
    assert.throws(() => core.setUserWeights("nope", "5", [1]), refused(/no app "nope" is published/));
    assert.throws(() => core.setUserWeights("plain", "5", [1]), refused(/app "plain" has no selection/));
    assert.throws(() => core.setUserWeights("s", "5", [1, 1]), refused(/has 2 weights for 1 members/));
    assert.throws(() => core.setUserWeights("s", "5", [-1]), refused(/finite and at least 0/));
    assert.throws(() => core.setUserWeights("s", "5", [NaN]), refused(/Invalid user weights/));
    assert.throws(
      () => core.publishApps([appWith({ mode: "all", members, weights: [1, 2] })]),
      refused(/Invalid app table: app "s" has 2 weights for 1 members/),
    );
  } finally {
    await core.close();
  }
});

Deno.test("an ensemble with no member connected answers the default output, naming every member missing", async () => {
  const { core, url, members } = servingTwoModels();
  try {
    core.publishApps([appWith({ mode: "all", combine: "mean", members, weights: [1, 1] })]);
    const text = await predictText(url, { input: [1], uid: 3 });
    assert.match(
      text,
      /^\{"query_id":\d+,"output":-1,"default":true,"default_explanation":"No connected models found for query","models_used":\[\],"models_missing":\["a:1","b:1"\],"confidence":0\.0000\}$/,
    );
  } finally {
    await core.close();
  }
});

Deno.test("a drawn model follows the user's own weights, then the weights set for them", async () => {
  const { core, url, members } = servingTwoModels();
  try {
    core.publishApps([appWith({ mode: "one", members, weights: [0, 1], users: { "5": [1, 0] } })]);
    const used = async (body: unknown) => JSON.parse(await predictText(url, body)).models_used;
    assert.deepEqual(await used({ input: [1] }), ["b:1"]);
    assert.deepEqual(await used({ input: [1], uid: 5 }), ["a:1"]);
    assert.deepEqual(await used({ input: [1], uid: "5" }), ["a:1"]);
    core.setUserWeights("s", "5", [0, 1]);
    assert.deepEqual(await used({ input: [1], uid: 5 }), ["b:1"]);
    // A republished table starts from what it carries.
    core.publishApps([appWith({ mode: "one", members, weights: [0, 1], users: { "5": [1, 0] } })]);
    assert.deepEqual(await used({ input: [1], uid: 5 }), ["a:1"]);
  } finally {
    await core.close();
  }
});
