/**
 * The query port is served by the core (native/core/src/http), which answers predict requests itself and
 * forwards the rest to the TypeScript frontend. A pinned version always takes the frontend's path, so
 * pinning the current version shows both paths answering the same request.
 */
import assert from "node:assert/strict";
import { Container, type Server, waitFor, withServer } from "./harness.ts";

const SUM = "clipper_container.examples.sum";

/** The answer through the native path and through the frontend's, query ids set aside. */
async function bothPaths(server: Server, app: string, body: Record<string, unknown>) {
  const native = await server.predict(app, body);
  const frontend = await server.predict(app, { ...body, version: "1" });
  assert.equal(native.status, 200, native.text);
  assert.equal(frontend.status, 200, frontend.text);
  const ids: number[] = [];
  const strip = (answer: unknown): unknown => {
    const { query_id, ...rest } = answer as { query_id: number };
    ids.push(query_id);
    return rest;
  };
  const shape = (b: unknown) => {
    const batch = (b as { batch_predictions?: unknown[] }).batch_predictions;
    return batch ? { batch_predictions: batch.map(strip) } : strip(b);
  };
  return { native: shape(native.body), frontend: shape(frontend.body), ids };
}

Deno.test("the native query port answers exactly as the frontend does, outputs and defaults alike", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    await server.deploy("lonely", "ghost", "doubles", { default_output: '{"label": 0}' });
    containers.push(Container.start(server, SUM, "sum", "doubles"));
    await server.waitForReplicas("sum");
    const ids: number[] = [];
    for (
      const [app, body] of [
        ["shop", { input: [1, 2.5] }],
        ["shop", { input_batch: [[1], [2, 3], []] }],
        ["lonely", { input: [1] }],
        ["lonely", { input_batch: [[1], [2]] }],
      ] as const
    ) {
      const answers = await bothPaths(server, app, body);
      assert.deepEqual(answers.native, answers.frontend, `${app} ${JSON.stringify(body)}`);
      ids.push(...answers.ids);
    }
    assert.equal(new Set(ids).size, ids.length, `query ids repeat: ${ids}`);
  });
});

Deno.test("requests the native port does not take reach the frontend unchanged", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "ints");
    containers.push(Container.start(server, SUM, "sum", "ints"));
    await server.waitForReplicas("sum");
    const url = `${server.query_url}/shop/predict`;
    // A streamed body has no length: the frontend reads it.
    const chunked = await fetch(url, {
      method: "POST",
      body: ReadableStream.from([new TextEncoder().encode('{"input": [1, 2]}')]),
    });
    assert.deepEqual([chunked.status, (await chunked.json()).output], [200, 3]);
    // Integers written as 1.0 are the frontend's to accept.
    const fractional = await server.predict("shop", '{"input": [1.0, 2.0]}');
    assert.deepEqual([fractional.status, (fractional.body as { output: unknown }).output], [200, 3]);
    const query = await fetch(`${url}?trace=1`, { method: "POST", body: '{"input": [4]}' });
    assert.deepEqual([query.status, (await query.json()).output], [200, 4]);
    const health = await server.get("/health");
    assert.equal((health.body as { status: string }).status, "ok");
  });
});

Deno.test("metrics count the requests answered on either path", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "ints");
    containers.push(Container.start(server, SUM, "sum", "ints"));
    await server.waitForReplicas("sum");
    for (let i = 0; i < 3; i++) await server.predict("shop", { input: [i, 100] });
    for (let i = 0; i < 2; i++) await server.predict("shop", { input: [i, 200], version: "1" });
    await server.predict("shop", { input_batch: [[7], [8]] });
    const m = (await server.get("/metrics")).body as {
      apps: Record<string, { requests: number; predictions: number; latency_micros: { count: number } }>;
      models: Record<string, { predictions: number; batch_size: { count: number } }>;
    };
    assert.equal(m.apps.shop?.requests, 6);
    assert.equal(m.apps.shop?.predictions, 7);
    assert.equal(m.apps.shop?.latency_micros.count, 6);
    assert.equal(m.models["sum:1"]?.predictions, 7);
    assert.equal(m.models["sum:1"]?.batch_size.count, 7);
  });
});

Deno.test("a predict request taken before the server is told to stop is still answered", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "slow", "doubles", { slo_micros: 10_000_000 });
    containers.push(Container.start(server, "slow.py", "slow", "doubles", { args: ["1.0"] }));
    await server.waitForReplicas("slow");
    const answer = server.predict("shop", { input: [1, 2, 3] });
    await waitFor("the query to reach the model", async () => {
      const core = ((await server.get("/metrics")).body as { core: { inflight_batches: number } }).core;
      return core.inflight_batches >= 1 ? true : undefined;
    });
    await server.stop();
    const r = await answer;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((r.body as { output: unknown; default: boolean }).output, 3);
  });
});
