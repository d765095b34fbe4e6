/**
 * End to end: REST → Deno → Rust core → ZeroMQ → real Python containers and back.
 */
import assert from "node:assert/strict";
import { Container, waitFor, withServer } from "./harness.ts";

const SUM = "clipper_container.examples.sum";

Deno.test("every input type is answered by a Python container through the whole stack", async () => {
  await withServer(async (server, containers) => {
    const cases: [string, unknown, unknown][] = [
      ["ints", [1, 2, 3], 6],
      ["floats", [1.5, 2], 3.5],
      ["doubles", [1, 2.25], 3.25],
      ["bytes", btoa(String.fromCharCode(1, 2, 250)), 253],
      ["strings", "héllo", 5],
    ];
    for (const [type] of cases) {
      await server.deploy(`app-${type}`, `sum-${type}`, type);
      containers.push(Container.start(server, SUM, `sum-${type}`, type));
    }
    for (const [type] of cases) await server.waitForReplicas(`sum-${type}`);
    for (const [type, input, expected] of cases) {
      const r = await server.predict(`app-${type}`, { input });
      assert.equal(r.status, 200, r.text);
      const body = r.body as Record<string, unknown>;
      assert.equal(body.output, expected, `${type}: ${r.text}`);
      assert.equal(body.default, false);
      assert.equal(typeof body.query_id, "number");
      assert.ok(!("default_explanation" in body));
    }
  });
});

Deno.test("an input batch is answered in input order and integers are accepted for doubles", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    containers.push(Container.start(server, SUM, "sum", "doubles"));
    await server.waitForReplicas("sum");
    const inputs = Array.from({ length: 40 }, (_, i) => [i, 0.5]);
    const r = await server.predict("shop", { input_batch: inputs });
    assert.equal(r.status, 200, r.text);
    const outputs =
      (r.body as { batch_predictions: { output: number; default: boolean }[] }).batch_predictions;
    assert.deepEqual(outputs.map((o) => o.output), inputs.map(([i]) => i! + 0.5));
    assert.ok(outputs.every((o) => !o.default));
  });
});

Deno.test("a model's output reads the same whether the core answers it or the frontend does", async () => {
  await withServer(async (server, containers) => {
    // No replica yet: both paths answer the default output, which is JSON written with a trailing zero.
    await server.deploy("shop", "sum", "doubles", { default_output: "0.50" });
    // The core answers plain predicts; a pinned version goes to the TypeScript frontend.
    const bothPaths = async (body: Record<string, unknown>) => {
      const core = await server.predict("shop", body);
      const frontend = await server.predict("shop", { ...body, version: "1" });
      const withoutIds = (text: string) => text.replace(/"query_id":\d+/g, '"query_id":0');
      assert.equal(withoutIds(frontend.text), withoutIds(core.text));
      return withoutIds(core.text);
    };
    assert.match(await bothPaths({ input: [1, 2] }), /^\{"query_id":0,"output":0\.50,"default":true,/);
    containers.push(Container.start(server, SUM, "sum", "doubles"));
    await server.waitForReplicas("sum");
    // The container writes a float64 sum as "6.0": it must not read 6 on one path and 6.0 on the other.
    assert.equal(await bothPaths({ input: [1, 2, 3] }), '{"query_id":0,"output":6.0,"default":false}');
    assert.equal(
      await bothPaths({ input_batch: [[1.5], [2, 2]] }),
      '{"batch_predictions":[{"query_id":0,"output":1.5,"default":false},' +
        '{"query_id":0,"output":4.0,"default":false}]}',
    );
  });
});

Deno.test("a container built on libzmq, as the original Clipper's are, is served through the core's socket", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    containers.push(Container.start(server, "libzmq_dealer.py", "sum", "doubles"));
    await server.waitForReplicas("sum");
    const single = await server.predict("shop", { input: [1.5, 2] });
    assert.deepEqual(single.body, { ...(single.body as object), output: 3.5, default: false });
    // Many queries at once, so batches of several inputs cross libzmq's framing too.
    const inputs = Array.from({ length: 64 }, (_, i) => [i, 0.25]);
    const batch = await server.predict("shop", { input_batch: inputs });
    const outputs =
      (batch.body as { batch_predictions: { output: number; default: boolean }[] }).batch_predictions;
    assert.deepEqual(outputs.map((o) => [o.output, o.default]), inputs.map(([i]) => [i! + 0.25, false]));
  });
});

Deno.test("a libzmq container claiming a routing identity in use is refused and the first keeps serving", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    containers.push(Container.start(server, "libzmq_dealer.py", "sum", "doubles", { args: ["replica-a"] }));
    await server.waitForReplicas("sum");
    const second = Container.start(server, "libzmq_dealer.py", "sum", "doubles", { args: ["replica-a"] });
    containers.push(second);
    let code: number | undefined;
    second.exited().then((status) => code = status.code);
    // Exit status 3: the frontend closed its connection before answering anything.
    assert.equal(await waitFor("the second container to be turned away", () => Promise.resolve(code)), 3);
    const listed = await server.admin("get_all_containers", { verbose: true });
    assert.equal((listed.body as unknown[]).length, 1);
    const r = await server.predict("shop", { input: [1, 2] });
    assert.deepEqual([r.status, (r.body as { output: unknown }).output], [200, 3]);
  });
});

Deno.test("a pinned version is served by its own container and an unknown version is refused", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("app", "m", "ints", { version: "1" });
    const v2 = await server.admin("add_model", {
      model_name: "m",
      model_version: "2",
      labels: [],
      input_type: "ints",
      container_name: "test",
      model_data_path: "/tmp",
    });
    assert.equal(v2.status, 200, v2.text);
    // Version 1 doubles its answer's input, so the two versions are told apart by their outputs.
    containers.push(Container.start(server, SUM, "m", "ints", { version: "1" }));
    containers.push(Container.start(server, "slow.py", "m", "ints", { version: "2", args: ["0"] }));
    await server.waitForReplicas("m", 2);
    const current = await server.predict("app", { input: [4, 5] });
    assert.equal((current.body as { output: unknown }).output, 2, "version 2 (current) answers the length");
    const pinned = await server.predict("app", { input: [4, 5], version: "1" });
    assert.equal((pinned.body as { output: unknown }).output, 9, "version 1 answers the sum");
    const unknown = await server.predict("app", { input: [4, 5], version: "9" });
    assert.equal(unknown.status, 400);
    assert.equal((unknown.body as { code: string }).code, "version_not_found");
  });
});

Deno.test("with no replica connected the default output comes back at once with the original explanation", async () => {
  await withServer(async (server) => {
    await server.deploy("lonely", "ghost", "doubles", {
      default_output: '{"label": 0}',
      slo_micros: 10_000_000,
    });
    const started = performance.now();
    const r = await server.predict("lonely", { input: [1] });
    const elapsed = performance.now() - started;
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      query_id: (r.body as { query_id: number }).query_id,
      output: { label: 0 },
      default: true,
      default_explanation: "No connected models found for query",
    });
    // Far below the 10 s objective: it did not wait for the deadline. (Not a speed assertion.)
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  });
});

Deno.test("when the objective passes first the default comes back with the original explanation", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("rushed", "slow", "doubles", { slo_micros: 50_000, default_output: "late" });
    containers.push(Container.start(server, "slow.py", "slow", "doubles", { args: ["1.0"] }));
    await server.waitForReplicas("slow");
    const r = await server.predict("rushed", { input: [1] });
    assert.equal(r.status, 200);
    const body = r.body as Record<string, unknown>;
    assert.equal(body.default, true);
    assert.equal(body.output, "late");
    assert.equal(
      body.default_explanation,
      "Failed to retrieve a prediction response within the specified latency SLO",
    );
  });
});

Deno.test("metrics report counters and latency histograms per app and per model", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "ints");
    containers.push(Container.start(server, SUM, "sum", "ints"));
    await server.waitForReplicas("sum");
    for (let i = 0; i < 5; i++) await server.predict("shop", { input: [i] });
    const r = await server.get("/metrics");
    assert.equal(r.status, 200);
    const m = r.body as {
      apps: Record<
        string,
        { requests: number; predictions: number; latency_micros: { count: number; p99: number } }
      >;
      models: Record<string, { predictions: number; batch_size: { count: number } }>;
      core: { connected_replicas: number; batches_sent: number };
    };
    assert.equal(m.apps.shop?.requests, 5);
    assert.equal(m.apps.shop?.latency_micros.count, 5);
    assert.ok(m.apps.shop!.latency_micros.p99 > 0);
    assert.equal(m.models["sum:1"]?.predictions, 5);
    assert.equal(m.core.connected_replicas, 1);
    // Core counters are republished every 250 ms, so they catch up shortly after the answers.
    await waitFor("the core counters to show the batches", async () => {
      const core = ((await server.get("/metrics")).body as typeof m).core;
      return core.batches_sent >= 1 ? true : undefined;
    });
  });
});
