/**
 * The TypeScript container library (containers/deno) end to end: real frontend, real Deno container
 * processes, answers compared with the Python library's on the same queries.
 */
import assert from "node:assert/strict";
import { Container, type Server, waitFor, withServer } from "./harness.ts";

const PY_SUM = "clipper_container.examples.sum";
const TS_SUM = "containers/deno/examples/sum.ts";

async function outputs(server: Server, app: string, input_batch: unknown[]): Promise<unknown[]> {
  const r = await server.predict(app, { input_batch });
  assert.equal(r.status, 200, r.text);
  const answers =
    (r.body as { batch_predictions: { output: unknown; default: boolean }[] }).batch_predictions;
  assert.ok(answers.every((a) => !a.default), r.text);
  return answers.map((a) => a.output);
}

Deno.test("the Deno container answers the same queries as the Python one, for every input type", async () => {
  await withServer(async (server, containers) => {
    const cases: [string, unknown[]][] = [
      ["ints", [[1, 2, 3], [-5], []]],
      ["floats", [[1.5, 2], [0.25, 0.5, 4]]],
      ["doubles", [[1, 2.25], [1, 2], [1e20, 1]]],
      ["bytes", [btoa(String.fromCharCode(1, 2, 250)), btoa("")]],
      ["strings", ["héllo", "", "日本"]],
    ];
    for (const [type] of cases) {
      for (const lang of ["py", "ts"]) {
        await server.deploy(`${lang}-${type}`, `${lang}-sum-${type}`, type);
        containers.push(
          Container.start(server, lang === "py" ? PY_SUM : TS_SUM, `${lang}-sum-${type}`, type),
        );
      }
    }
    for (const [type] of cases) {
      for (const lang of ["py", "ts"]) await server.waitForReplicas(`${lang}-sum-${type}`);
    }
    for (const [type, inputs] of cases) {
      const python = await outputs(server, `py-${type}`, inputs);
      const typescript = await outputs(server, `ts-${type}`, inputs);
      assert.deepEqual(typescript, python, `${type}: the two libraries disagree`);
    }
  });
});

Deno.test("a Deno replica started by the container manager serves queries", async () => {
  await withServer(async (server) => {
    const command = [
      Deno.execPath(),
      "run",
      "--allow-all",
      `${new URL("..", import.meta.url).pathname}${TS_SUM}`,
    ];
    for (
      const [endpoint, body] of [
        ["add_app", {
          name: "shop",
          input_type: "ints",
          default_output: "-1",
          latency_slo_micros: 5_000_000,
        }],
        ["add_model", {
          model_name: "tsum",
          model_version: "1",
          input_type: "ints",
          container_command: command,
        }],
        ["add_model_links", { app_name: "shop", model_names: ["tsum"] }],
        ["set_num_replicas", { model_name: "tsum", model_version: "1", num_replicas: 1 }],
      ] as const
    ) {
      const r = await server.admin(endpoint, body);
      assert.equal(r.status, 200, r.text);
    }
    await server.waitForReplicas("tsum");
    assert.deepEqual(await outputs(server, "shop", [[1, 2], [40, 2]]), [3, 42]);
  });
});

Deno.test("a Deno model that breaks the contract fails its batch and keeps serving", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("app", "breaker", "strings", { batch_size: 1 });
    containers.push(Container.start(server, "tests/containers/contract_breaker.ts", "breaker", "strings"));
    await server.waitForReplicas("breaker");
    const bad = await server.predict("app", { input: "bad input" });
    assert.equal(bad.status, 200, bad.text);
    const body = bad.body as { default: boolean; default_explanation: string };
    assert.equal(body.default, true);
    assert.match(body.default_explanation, /0 outputs for a batch of 1/);
    assert.deepEqual(await outputs(server, "app", ["four", "ok"]), [4, 2]);
  });
});

Deno.test("a Deno container told to stop leaves, and another replica answers what it held", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("app", "tsum", "ints");
    const first = Container.start(server, TS_SUM, "tsum", "ints");
    containers.push(first, Container.start(server, TS_SUM, "tsum", "ints"));
    await server.waitForReplicas("tsum", 2);
    const load = Array.from({ length: 40 }, (_, i) => outputs(server, "app", [[i, 1]]));
    await first.stop();
    assert.deepEqual((await Promise.all(load)).flat(), Array.from({ length: 40 }, (_, i) => i + 1));
    await waitFor("one replica left", async () => {
      const r = await server.admin("get_all_containers", { verbose: true });
      return (r.body as unknown[]).length === 1 ? true : undefined;
    });
  });
});
