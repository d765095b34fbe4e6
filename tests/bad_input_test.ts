/**
 * Bad input on the query API: each gets a clear JSON error with a stable code and fitting status, and the
 * server keeps serving.
 */
import assert from "node:assert/strict";
import { Container, withServer } from "./harness.ts";

Deno.test("bad predict requests get clear errors and the server keeps serving", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "ints");
    containers.push(Container.start(server, "clipper_container.examples.sum", "sum", "ints"));
    await server.waitForReplicas("sum");
    const cases: [string, string, unknown, number, string][] = [
      ["unknown app", "nope", { input: [1] }, 404, "app_not_found"],
      ["malformed JSON", "shop", '{"input": [1,', 400, "invalid_json"],
      ["not an object", "shop", "[1, 2]", 400, "invalid_request"],
      ["no input", "shop", { inputs: [1] }, 400, "invalid_request"],
      ["wrong type", "shop", { input: "abc" }, 400, "invalid_request"],
      ["fractional int", "shop", { input: [1.5] }, 400, "invalid_request"],
      ["empty batch", "shop", { input_batch: [] }, 400, "invalid_request"],
      ["version not a string", "shop", { input: [1], version: 2 }, 400, "invalid_request"],
      ["body over the limit", "shop", { input: Array(600).fill(1) }, 413, "body_too_large"],
    ];
    for (const [what, app, body, status, code] of cases) {
      const r = await server.predict(app, body);
      assert.equal(r.status, status, `${what}: ${r.text}`);
      const err = r.body as { error: string; cause: string; code: string };
      assert.equal(err.code, code, what);
      assert.ok(err.error.length > 0 && err.cause.length > 0, what);
    }
    const path = await server.get("/shop/nothing-here");
    assert.deepEqual([path.status, (path.body as { code: string }).code], [404, "route_not_found"]);
    const ok = await server.predict("shop", { input: [1, 2] });
    assert.deepEqual([ok.status, (ok.body as { output: unknown }).output], [200, 3]);
  }, ["--max-body-bytes", "1024"]);
});

Deno.test("feedback is validated against the app's input type", async () => {
  await withServer(async (server) => {
    await server.deploy("shop", "sum", "doubles");
    const url = `${server.query_url}/shop/update`;
    const post = (body: unknown) => fetch(url, { method: "POST", body: JSON.stringify(body) });
    // Valid feedback gets as far as scoring: with no replica connected, nothing can score it.
    const valid = await post({ uid: "u1", input: [1, 2], label: 1 });
    assert.equal(valid.status, 400);
    assert.equal((await valid.json()).code, "feedback_unscorable");
    for (
      const bad of [
        { uid: "u1", input: "x", label: 1 },
        { uid: "u1", input: [1], label: { one: 1 } },
        { uid: "u1", input: [1], label: true },
        { uid: 1.5, input: [1], label: 1 },
        { uid: "u1", label: 1 },
      ]
    ) {
      const r = await post(bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal((await r.json()).code, "invalid_request");
    }
    const missing = await fetch(`${server.query_url}/nope/update`, { method: "POST", body: "{}" });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });
});
