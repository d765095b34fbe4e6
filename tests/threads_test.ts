/**
 * The query port served by several threads: the real server with `--threads 3`, a real container, many
 * concurrent clients each on connections of their own (so the kernel spreads them over the threads'
 * listeners): every query is answered by the model, `/metrics` counts every one, and SIGTERM drains every
 * thread and exits 0.
 */
import assert from "node:assert/strict";
import { Container, Server, waitFor } from "./harness.ts";

const CLIENTS = 12;
const PER_CLIENT = 20;

Deno.test("a query port served by several threads answers every query and counts it once", async () => {
  const server = await Server.start(["--threads", "3"]);
  const container = Container.start(server, "clipper_container.examples.sum", "sum", "doubles");
  let exited: Deno.CommandStatus | undefined;
  try {
    await server.deploy("sum", "sum", "doubles");
    await server.waitForReplicas("sum");
    const names = [...Deno.readDirSync(`/proc/${server.pid}/task`)]
      .map((t) => Deno.readTextFileSync(`/proc/${server.pid}/task/${t.name}/comm`).trim());
    assert.deepEqual(
      names.filter((n) => n.startsWith("clipper-http-")).sort(),
      ["clipper-http-1", "clipper-http-2"],
      "two HTTP threads besides the core's",
    );
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; i < PER_CLIENT; i++) {
        const x = c * PER_CLIENT + i;
        // A client of its own per query: a new connection, so the kernel picks a thread each time.
        const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        try {
          const r = await fetch(`${server.query_url}/sum/predict`, {
            method: "POST",
            body: JSON.stringify({ input: [x, 1] }),
            client,
          });
          const body = await r.json() as { output: number; default: boolean };
          assert.deepEqual([r.status, body.output, body.default], [200, x + 1, false]);
        } finally {
          client.close();
        }
      }
    }));
    const predictions = await waitFor("every query to be counted", async () => {
      const metrics = (await server.get("/metrics")).body as {
        apps: Record<string, { predictions: number }>;
      };
      const n = metrics.apps.sum?.predictions ?? 0;
      return n >= CLIENTS * PER_CLIENT ? n : undefined;
    });
    assert.equal(predictions, CLIENTS * PER_CLIENT);
    exited = await server.stop();
    assert.equal(exited.code, 0, "every thread drained and the server exited 0");
  } finally {
    if (!exited) await server.stop();
    await container.stop();
  }
});
