/**
 * Faults: misbehaving containers must not take the server down, lose other queries, or answer twice.
 */
import assert from "node:assert/strict";
import { Container, waitFor, withServer } from "./harness.ts";

Deno.test("garbage frames and a wrong RPC version are ignored and the server keeps serving", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    const garbage = Container.start(server, "garbage.py", "sum", "doubles");
    assert.equal((await garbage.exited()).code, 0);
    await waitFor("the core to count the malformed messages", async () => {
      const core = ((await server.get("/metrics")).body as { core: Record<string, number> }).core;
      return core.malformed_messages! >= 4 && core.refused_containers! >= 1 ? true : undefined;
    });
    const before = await server.admin("get_all_containers", { verbose: true });
    assert.deepEqual(before.body, [], "the wrong-version container was not registered");
    containers.push(Container.start(server, "clipper_container.examples.sum", "sum", "doubles"));
    await server.waitForReplicas("sum");
    const r = await server.predict("shop", { input: [2, 3] });
    assert.deepEqual([r.status, (r.body as { output: unknown }).output], [200, 5]);
  });
});

Deno.test("a container that fails a batch reports it, the query gets the default, and it keeps serving", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "faulty", "doubles", { default_output: "0" });
    containers.push(Container.start(server, "faulty.py", "faulty", "doubles"));
    await server.waitForReplicas("faulty");
    const bad = await server.predict("shop", { input: [-1] });
    const body = bad.body as Record<string, unknown>;
    assert.equal(body.default, true);
    assert.match(String(body.default_explanation), /negative input/);
    const good = await server.predict("shop", { input: [1, 2] });
    assert.deepEqual(good.body as { output: unknown; default: boolean }, {
      ...(good.body as object),
      output: 3,
      default: false,
    });
  });
});

Deno.test("a container killed mid-batch costs only its queries their answer, each answered once", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "slow", "doubles", { slo_micros: 1_500_000, default_output: "fallback" });
    const doomed = Container.start(server, "slow.py", "slow", "doubles", { args: ["30"] });
    await server.waitForReplicas("slow");
    const inFlight = server.predict("shop", { input_batch: [[1], [2], [3]] });
    await waitFor("the batch to be in flight", async () => {
      const core = ((await server.get("/metrics")).body as { core: Record<string, number> }).core;
      return core.inflight_batches! >= 1 ? true : undefined;
    });
    await doomed.kill();
    const r = await inFlight;
    assert.equal(r.status, 200);
    const answers =
      (r.body as { batch_predictions: { default: boolean; output: unknown; query_id: number }[] })
        .batch_predictions;
    assert.equal(answers.length, 3);
    assert.ok(answers.every((a) => a.default && a.output === "fallback"));
    assert.equal(new Set(answers.map((a) => a.query_id)).size, 3);
    // Its closed connection took it off the list at once, not after its silence timeout.
    const listed = (await server.admin("get_all_containers", { verbose: true })).body as {
      model_name: string;
    }[];
    assert.equal(listed.filter((c) => c.model_name === "slow").length, 0);
    // A fresh replica serves the next query.
    containers.push(Container.start(server, "clipper_container.examples.sum", "slow", "doubles"));
    await server.waitForReplicas("slow");
    const next = await server.predict("shop", { input: [4] });
    assert.deepEqual(
      [(next.body as { output: unknown }).output, (next.body as { default: boolean }).default],
      [4, false],
    );
  });
});
