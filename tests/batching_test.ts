/**
 * Batching policies end to end: a real server, a real container that answers each query with the size of
 * the batch it came in, and the Python management client changing the model's batching live. Queries
 * arrive a few milliseconds apart while the replica is idle: without a delay the first goes alone; with a
 * batch delay the replica waits for the ones behind it.
 */
import assert from "node:assert/strict";
import { Container, Server } from "./harness.ts";

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;
const QUERIES = 8;
const SPACING_MILLIS = 10;

/** Calls the Python `ClipperConnection` against `server`, as a user's script would. */
async function pythonAdmin(server: Server, statement: string): Promise<void> {
  const script = `from clipper_container.admin import ClipperConnection\n` +
    `conn = ClipperConnection(admin_url=${JSON.stringify(server.admin_url)})\n` +
    statement;
  const out = await new Deno.Command(python, {
    args: ["-c", script],
    env: { PYTHONPATH: `${root}containers/python` },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/**
 * Sends `QUERIES` queries `SPACING_MILLIS` apart without waiting for answers; returns each batch size.
 * Inputs start at `first`, so that no query is answered from the prediction cache.
 */
async function staggered(server: Server, first: number): Promise<number[]> {
  const answers: Promise<number>[] = [];
  for (let i = first; i < first + QUERIES; i++) {
    answers.push(
      server.predict("sizes", { input: [i] }).then((r) => {
        const body = r.body as { output: string; default: boolean };
        assert.equal(body.default, false, r.text);
        return Number(body.output);
      }),
    );
    await new Promise((r) => setTimeout(r, SPACING_MILLIS));
  }
  return await Promise.all(answers);
}

Deno.test("a batch delay set live from Python makes an idle replica wait for the queries behind the first", async () => {
  const server = await Server.start();
  const container = Container.start(server, "batch_size.py", "sizes", "doubles");
  try {
    await server.deploy("sizes", "sizes", "doubles", { slo_micros: 2_000_000 });
    await server.waitForReplicas("sizes");
    // A first round trip: a model with no measured latency is never held.
    assert.equal((await server.predict("sizes", { input: [0] })).status, 200);

    const undelayed = await staggered(server, 1);
    assert.equal(undelayed[0], 1, `without a delay the first query goes alone: ${undelayed}`);

    await pythonAdmin(
      server,
      `conn.set_model_batching("sizes", batching="quantile", batch_delay_micros=200_000)`,
    );
    const model = await server.admin("get_model", { model_name: "sizes", model_version: "1" });
    const view = model.body as { batching: string; batch_delay_micros: number };
    assert.deepEqual([view.batching, view.batch_delay_micros], ["quantile", 200_000]);

    const delayed = await staggered(server, 1 + QUERIES);
    assert.ok(delayed[0]! > 1, `with a delay the first query waits for others: ${delayed}`);
  } finally {
    await server.stop();
    await container.stop();
  }
});
