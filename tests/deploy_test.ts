/**
 * From a trained model to a serving replica: a Python session deploys a scikit-learn closure through the
 * admin client, the server runs the replica, and REST queries get the model's own answers.
 */
import assert from "node:assert/strict";
import { Server, waitFor } from "./harness.ts";

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;

async function deploy(server: Server, mode: "good" | "bad"): Promise<Record<string, unknown>> {
  const models = await Deno.makeTempDir({ prefix: "clipper-models-" });
  const out = await new Deno.Command(python, {
    args: [`${root}tests/scripts/deploy_sklearn.py`, server.admin_url, server.query_url, models, mode],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, `deploy script failed with ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("a scikit-learn closure deployed from Python answers REST queries with the model's predictions", async () => {
  const server = await Server.start();
  try {
    const { probes, expected } = await deploy(server, "good") as { probes: number[][]; expected: number[] };
    await server.waitForReplicas("logreg");
    const answer = await waitFor("the replica to answer", async () => {
      const r = await server.predict("iris-like", { input_batch: probes });
      const body = r.body as { batch_predictions?: { output: unknown; default: boolean }[] };
      return body.batch_predictions?.every((p) => !p.default) ? body.batch_predictions : undefined;
    });
    assert.deepEqual(answer.map((p) => p.output), expected);
  } finally {
    await server.stop();
  }
});

Deno.test("a function that breaks the contract is refused before deploy, in plain words", async () => {
  const server = await Server.start();
  try {
    const { contract_error } = await deploy(server, "bad") as { contract_error: string };
    assert.match(contract_error, /one string per input: predict must return strings; output 0 is int/);
    const models = await server.admin("get_all_models", { verbose: false });
    assert.deepEqual(models.body, [], "nothing was registered");
  } finally {
    await server.stop();
  }
});
