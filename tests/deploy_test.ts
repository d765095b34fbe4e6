/**
 * From a trained model to a serving replica: a Python session deploys a scikit-learn closure or a PyTorch
 * model through the admin client, the server runs the replicas, and REST queries get the model's own answers.
 */
import assert from "node:assert/strict";
import { Server, waitFor } from "./harness.ts";

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;

/** Runs a deploy script from tests/scripts against `server`; returns what it printed, parsed. */
async function deploy<T>(server: Server, script: string, ...args: string[]): Promise<T> {
  const models = await Deno.makeTempDir({ prefix: "clipper-models-" });
  const out = await new Deno.Command(python, {
    args: [`${root}tests/scripts/${script}`, server.admin_url, server.query_url, models, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, `deploy script failed with ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

interface Deployed {
  probes: number[][];
  expected: number[];
}

/** The app's answers to `probes` in one batch, once none of them is the default output. */
function answers(server: Server, app: string, probes: number[][]): Promise<unknown[]> {
  return waitFor("the replicas to answer", async () => {
    const r = await server.predict(app, { input_batch: probes });
    const body = r.body as { batch_predictions?: { output: unknown; default: boolean }[] };
    return body.batch_predictions?.every((p) => !p.default)
      ? body.batch_predictions.map((p) => p.output)
      : undefined;
  });
}

/** The replica's `CUDA_VISIBLE_DEVICES`, read from the process's own environment; null when unset. */
async function visibleDevices(pid: number): Promise<string | null> {
  const environ = new TextDecoder().decode(await Deno.readFile(`/proc/${pid}/environ`)).split("\0");
  const entry = environ.find((e) => e.startsWith("CUDA_VISIBLE_DEVICES="));
  return entry === undefined ? null : entry.slice("CUDA_VISIBLE_DEVICES=".length);
}

Deno.test("a scikit-learn closure deployed from Python answers REST queries with the model's predictions", async () => {
  const server = await Server.start();
  try {
    const { probes, expected } = await deploy<Deployed>(server, "deploy_sklearn.py", "good");
    await server.waitForReplicas("logreg");
    assert.deepEqual(await answers(server, "iris-like", probes), expected);
  } finally {
    await server.stop();
  }
});

Deno.test("a function that breaks the contract is refused before deploy, in plain words", async () => {
  const server = await Server.start();
  try {
    const { contract_error } = await deploy<{ contract_error: string }>(server, "deploy_sklearn.py", "bad");
    assert.match(contract_error, /one string per input: predict must return strings; output 0 is int/);
    const models = await server.admin("get_all_models", { verbose: false });
    assert.deepEqual(models.body, [], "nothing was registered");
  } finally {
    await server.stop();
  }
});

Deno.test("a PyTorch model serves from a GPU-pinned and a CPU replica of one version with the model's answers", async () => {
  const server = await Server.start();
  try {
    const { probes, expected } = await deploy<Deployed>(server, "deploy_pytorch.py");
    await server.waitForReplicas("net", 2);
    for (let i = 0; i < 4; i++) assert.deepEqual(await answers(server, "torch-app", probes), expected);
    const r = await server.admin("get_model_replicas", { model_name: "net", model_version: "1" });
    const replicas = r.body as { gpu: string | null; pid: number }[];
    assert.deepEqual(replicas.map((p) => p.gpu), ["0", ""]);
    assert.deepEqual(await Promise.all(replicas.map((p) => visibleDevices(p.pid))), ["0", ""]);
  } finally {
    await server.stop();
  }
});
