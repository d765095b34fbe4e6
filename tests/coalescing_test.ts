/**
 * Coalescing end to end: identical queries sent together to a real server make one call to a real model
 * container (which answers each input with the size of its batch), every client gets the answer, and
 * `/metrics` (JSON and Prometheus) counts the queries that shared another's call.
 */
import assert from "node:assert/strict";
import { Container, Server, waitFor } from "./harness.ts";

const WAITERS = 6;

async function coreCounters(server: Server): Promise<Record<string, number>> {
  return ((await server.get("/metrics")).body as { core: Record<string, number> }).core;
}

Deno.test("identical queries in flight make one model call and every client gets its answer", async () => {
  const server = await Server.start();
  const container = Container.start(server, "batch_size.py", "sizes", "doubles", { args: ["0.2"] });
  try {
    await server.deploy("sizes", "sizes", "doubles", { slo_micros: 5_000_000 });
    await server.waitForReplicas("sizes");
    const before = await coreCounters(server);

    const answers = await Promise.all(
      Array.from({ length: WAITERS }, () => server.predict("sizes", { input: [42] })),
    );
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        [(r.body as { output: unknown }).output, (r.body as { default: boolean }).default],
        [1, false],
        "one query computed alone, in a batch of one",
      );
    }

    // The core publishes its counters every 250 ms.
    const after = await waitFor("the coalesced queries to be counted", async () => {
      const now = await coreCounters(server);
      return now.queries_coalesced! - before.queries_coalesced! >= WAITERS - 1 ? now : undefined;
    });
    assert.equal(after.batches_sent! - before.batches_sent!, 1, "one model call");
    assert.equal(after.queries_coalesced! - before.queries_coalesced!, WAITERS - 1);
    const text = (await server.get("/metrics/prometheus")).text;
    const line = text.split("\n").find((l) => l.startsWith("clipper_core_queries_coalesced_total"));
    assert.equal(line, `clipper_core_queries_coalesced_total ${after.queries_coalesced}`, text);
  } finally {
    await server.stop();
    await container.stop();
  }
});
