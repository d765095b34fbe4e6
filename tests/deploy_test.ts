/**
 * From a trained model to a serving replica: a Python session deploys a function, a scikit-learn closure or
 * a PyTorch model through the admin client, the server runs the replicas, and REST queries get the model's
 * own answers from the first one on, since a deploy call returns once its replicas are connected.
 */
import assert from "node:assert/strict";
import { Server, withServer } from "./harness.ts";

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

/** The app's answers to `probes` in one batch; fails on a default output, which no replica gave. */
async function answers(server: Server, app: string, probes: number[][]): Promise<unknown[]> {
  const r = await server.predict(app, { input_batch: probes });
  const { batch_predictions } = r.body as { batch_predictions: { output: unknown; default: boolean }[] };
  assert.deepEqual(batch_predictions.map((p) => p.default), probes.map(() => false), r.text);
  return batch_predictions.map((p) => p.output);
}

/** The replica's `CUDA_VISIBLE_DEVICES`, read from the process's own environment; null when unset. */
async function visibleDevices(pid: number): Promise<string | null> {
  const environ = new TextDecoder().decode(await Deno.readFile(`/proc/${pid}/environ`)).split("\0");
  const entry = environ.find((e) => e.startsWith("CUDA_VISIBLE_DEVICES="));
  return entry === undefined ? null : entry.slice("CUDA_VISIBLE_DEVICES=".length);
}

Deno.test("a scikit-learn closure deployed from Python answers the first REST query with the model's predictions", () =>
  withServer(async (server) => {
    const { probes, expected } = await deploy<Deployed>(server, "deploy_sklearn.py", "good");
    assert.deepEqual(await answers(server, "iris-like", probes), expected);
  }));

Deno.test("a function that breaks the contract is refused before deploy, in plain words", () =>
  withServer(async (server) => {
    const { contract_error } = await deploy<{ contract_error: string }>(server, "deploy_sklearn.py", "bad");
    assert.match(contract_error, /one string per input: predict must return strings; output 0 is int/);
    const models = await server.admin("get_all_models", { verbose: false });
    assert.deepEqual(models.body, [], "nothing was registered");
  }));

Deno.test("a PyTorch model serves from a GPU-pinned and a CPU replica of one version with the model's answers", () =>
  withServer(async (server) => {
    const { probes, expected } = await deploy<Deployed>(server, "deploy_pytorch.py");
    for (let i = 0; i < 4; i++) assert.deepEqual(await answers(server, "torch-app", probes), expected);
    const r = await server.admin("get_model_replicas", { model_name: "net", model_version: "1" });
    const replicas = r.body as { gpu: string | null; pid: number }[];
    assert.deepEqual(replicas.map((p) => p.gpu), ["0", ""]);
    assert.deepEqual(await Promise.all(replicas.map((p) => visibleDevices(p.pid))), ["0", ""]);
  }));

Deno.test("the admin client lists a version's replica processes and reads a replica's log", () =>
  withServer(async (server) => {
    const { replicas, log } = await deploy<{ replicas: { replica: number; pid: number }[]; log: string }>(
      server,
      "deploy_closure.py",
      "replicas",
    );
    const own = await server.admin("get_model_replicas", { model_name: "total", model_version: "1" });
    assert.deepEqual(replicas, own.body);
    assert.deepEqual(replicas.map((r) => r.replica), [0, 1]);
    for (const { pid } of replicas) assert.ok((await Deno.stat(`/proc/${pid}`)).isDirectory, `${pid} runs`);
    assert.match(log, /^clipper_container: serving total:1 \(doubles\) to tcp:\/\/127\.0\.0\.1:\d+\n$/);
  }));

Deno.test("a deploy whose replica cannot import a module fails at once with the end of the replica's log", () =>
  withServer(async (server) => {
    const { deploy_error, log } = await deploy<{ deploy_error: string; log: string }>(
      server,
      "deploy_closure.py",
      "crash",
    );
    assert.match(deploy_error, /^replica 0 of model "needs-module:1" exited before it connected;/);
    assert.match(log, /ModuleNotFoundError: No module named 'only_where_deployed'\n/);
    assert.match(log, /the model failed on its sample input, so it is not served/);
    assert.match(log, /clipper: replica exited with code 1; restarting$/);
    assert.match(deploy_error, /The end of replica 0's log:\n(.|\n)*No module named 'only_where_deployed'/);
  }));

Deno.test("a deploy whose replica does not connect in time fails after wait_timeout_s, showing its log", () =>
  withServer(async (server) => {
    const { deploy_error } = await deploy<{ deploy_error: string }>(server, "deploy_closure.py", "timeout");
    assert.match(
      deploy_error,
      /^0 of 1 replicas of model "never-ready:1" connected within 3 s; .*\. The end of replica 0's log:\n/,
    );
    const managed = await server.admin("get_model_replicas", {
      model_name: "never-ready",
      model_version: "1",
    });
    assert.deepEqual((managed.body as { running: boolean }[]).map((r) => r.running), [true], "still loading");
  }));

/** The first answer of `app` to `input`; fails on a default output. */
async function answer(server: Server, app: string, input: unknown): Promise<unknown> {
  const r = await server.predict(app, { input });
  const { output, default: is_default } = r.body as { output: unknown; default: boolean };
  assert.equal(is_default, false, r.text);
  return output;
}

Deno.test("the Python README's deploy snippets run as written and its apps answer with the models' outputs", () =>
  withServer(async (server) => {
    // The client keeps pickled models under ~/.clipper/models: a fresh home keeps them with the test.
    const home = await Deno.makeTempDir({ prefix: "clipper-home-" });
    try {
      const out = await new Deno.Command(python, {
        args: [`${root}tests/scripts/readme.py`, "session", server.admin_url, server.query_url],
        env: { HOME: home },
        stdout: "piped",
        stderr: "inherit",
      }).output();
      assert.ok(out.success, `the README's snippets failed with ${out.code}`);
      assert.match(
        new TextDecoder().decode(out.stdout),
        /\nclipper_container: serving price:1 \(doubles\) to tcp:/,
      );
      // What the README's curl line shows.
      assert.equal(await answer(server, "shop", [1.0, 2.0]), 17.5);
      assert.ok([0, 1].includes(await answer(server, "risk", [0.5, 1.0, 0.0, 0.0]) as number));
      assert.ok([0, 1, 2].includes(await answer(server, "species", [0.1, 0.2, 0.3, 0.4]) as number));
      // exp3 draws one of its two models: the price (10 + 2.5 * 1.5) or the risk class.
      assert.ok([13.75, 0, 1].includes(await answer(server, "quote", [0.5, 1.0, 0.0, 0.0]) as number));
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }));

Deno.test("the Python README's container example serves as a replica the server runs", () =>
  withServer(async (server) => {
    const steps: [string, unknown][] = [
      ["add_app", {
        name: "sums",
        input_type: "doubles",
        default_output: "-1",
        latency_slo_micros: 2_000_000,
      }],
      ["add_model", {
        model_name: "sum",
        model_version: "1",
        input_type: "doubles",
        container_command: [python, `${root}tests/scripts/readme.py`, "container"],
      }],
      ["add_model_links", { app_name: "sums", model_names: ["sum"] }],
      ["set_num_replicas", { model_name: "sum", model_version: "1", num_replicas: 1 }],
    ];
    for (const [endpoint, body] of steps) {
      const r = await server.admin(endpoint, body);
      assert.equal(r.status, 200, `${endpoint}: ${r.text}`);
    }
    await server.waitForReplicas("sum");
    assert.equal(await answer(server, "sums", [1.0, 2.5]), 3.5);
  }));
