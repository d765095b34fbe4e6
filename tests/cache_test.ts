/**
 * The prediction cache, end to end: repeated queries are answered by the core without a container, with the
 * model's own output, and never with an output of a version that was removed.
 */
import assert from "node:assert/strict";
import { Container, type Server, waitFor, withServer } from "./harness.ts";

const SUM = "clipper_container.examples.sum";

interface ModelReport {
  predictions: number;
  cache_hits: number;
}

async function modelReport(server: Server, label: string): Promise<ModelReport> {
  const r = await server.get("/metrics");
  return (r.body as { models: Record<string, ModelReport> }).models[label]!;
}

async function output(server: Server, app: string, input: unknown): Promise<unknown> {
  const r = await server.predict(app, { input });
  assert.equal(r.status, 200, r.text);
  const body = r.body as { output: unknown; default: boolean };
  assert.equal(body.default, false, r.text);
  return body.output;
}

Deno.test("a repeated query is answered from the cache with the model's own output", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    containers.push(Container.start(server, SUM, "sum", "doubles"));
    await server.waitForReplicas("sum");
    assert.equal(await output(server, "shop", [1, 2]), 3);
    assert.equal((await modelReport(server, "sum:1")).predictions, 1);
    assert.equal(await output(server, "shop", [1, 2]), 3);
    const batch = await server.predict("shop", { input_batch: [[1, 2], [5, 5]] });
    assert.deepEqual(
      (batch.body as { batch_predictions: { output: number }[] }).batch_predictions.map((p) => p.output),
      [3, 10],
    );
    const report = await modelReport(server, "sum:1");
    assert.equal(report.cache_hits, 2, "the second query and the repeated batch input were hits");
    assert.equal(report.predictions, 2, "the model computed [1, 2] and [5, 5] once each");
    const cache = ((await server.get("/metrics")).body as { cache: { entries: number } }).cache;
    assert.ok(cache.entries >= 1, `the core reports its cache: ${JSON.stringify(cache)}`);
  });
});

Deno.test("a version removed and added again is not answered from the old version's cache", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("app", "m", "ints");
    const first = Container.start(server, SUM, "m", "ints");
    containers.push(first);
    await server.waitForReplicas("m");
    assert.equal(await output(server, "app", [4, 5]), 9);
    const removed = await server.admin("delete_versioned_model", { model_name: "m", model_version: "1" });
    assert.equal(removed.status, 200, removed.text);
    await first.stop();
    await waitFor("the first replica to leave", async () => {
      const r = await server.admin("get_all_containers", { verbose: true });
      return (r.body as unknown[]).length === 0 ? true : undefined;
    });
    // The same name and version, now served by a model that answers the input's length.
    await server.deploy("app2", "m", "ints");
    containers.push(Container.start(server, "slow.py", "m", "ints", { args: ["0"] }));
    await server.waitForReplicas("m");
    assert.equal(await output(server, "app2", [4, 5]), 2);
  });
});

Deno.test("with the cache turned off every query reaches the model", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    containers.push(Container.start(server, SUM, "sum", "doubles"));
    await server.waitForReplicas("sum");
    for (let i = 0; i < 3; i++) assert.equal(await output(server, "shop", [1, 2]), 3);
    const report = await modelReport(server, "sum:1");
    assert.equal(report.cache_hits, 0);
    assert.equal(report.predictions, 3);
  }, ["--prediction-cache-bytes", "0"]);
});
