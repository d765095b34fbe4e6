/**
 * Durability of the embedded state: a server killed with SIGKILL comes back with everything it
 * acknowledged, and serves it.
 */
import assert from "node:assert/strict";
import { Container, Server } from "./harness.ts";

Deno.test("apps, models, versions and links acknowledged before a SIGKILL are there after a restart", async () => {
  const first = await Server.start();
  let second: Server | undefined;
  let container: Container | undefined;
  try {
    await first.deploy("shop", "sum", "ints");
    const v2 = await first.admin("add_model", { model_name: "sum", model_version: "2", input_type: "ints" });
    assert.equal(v2.status, 200, v2.text);
    assert.equal(
      (await first.admin("set_model_version", { model_name: "sum", model_version: "1" })).status,
      200,
    );
    await first.kill();

    second = await Server.start([], first.state_dir);
    const apps = await second.admin("get_all_applications", { verbose: true });
    assert.deepEqual(
      (apps.body as { name: string; linked_models: string[] }[]).map((a) => [a.name, a.linked_models]),
      [
        ["shop", ["sum"]],
      ],
    );
    const models = await second.admin("get_all_models", { verbose: true });
    assert.deepEqual(
      (models.body as { model_version: string; is_current_version: boolean }[]).map((
        m,
      ) => [m.model_version, m.is_current_version]),
      [["1", true], ["2", false]],
    );
    container = Container.start(second, "clipper_container.examples.sum", "sum", "ints");
    await second.waitForReplicas("sum");
    const r = await second.predict("shop", { input: [2, 3] });
    assert.deepEqual([(r.body as { output: unknown }).output, (r.body as { default: boolean }).default], [
      5,
      false,
    ]);
  } finally {
    await container?.kill();
    await second?.stop();
    await first.stop();
  }
});

Deno.test("a corrupt state file stops start-up with a message naming it", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/state.json`, "[]");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../src/main.ts", import.meta.url).pathname,
      "--state-dir",
      dir,
      "--query-port",
      "0",
      "--admin-port",
      "0",
      "--rpc-port",
      "0",
    ],
    stdout: "null",
    stderr: "piped",
  });
  const out = await child.output();
  assert.equal(out.success, false);
  assert.match(new TextDecoder().decode(out.stderr), new RegExp(`${dir}/state.json`));
});
