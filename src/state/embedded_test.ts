import assert from "node:assert/strict";
import { EmbeddedBackend } from "./embedded.ts";
import { DEFAULT_POLICY, State } from "./store.ts";

const app = (name: string) => ({
  name,
  input_type: "ints" as const,
  default_output: "0",
  latency_slo_micros: 1000,
  policy: DEFAULT_POLICY,
  policy_params: {},
});

Deno.test("what one backend acknowledged is there when the directory is opened again", async () => {
  const dir = await Deno.makeTempDir();
  const first = new State(await EmbeddedBackend.open(dir));
  await first.addApp(app("shop"));
  // No close: a killed process never gets to close, so nothing may depend on it.
  const again = await EmbeddedBackend.open(dir);
  assert.deepEqual(Object.keys((await again.read()).apps), ["shop"]);
});

Deno.test("concurrent updates are applied one after the other and none is lost", async () => {
  const dir = await Deno.makeTempDir();
  const state = new State(await EmbeddedBackend.open(dir));
  await Promise.all(["a", "b", "c", "d"].map((n) => state.addApp(app(n))));
  const reopened = await EmbeddedBackend.open(dir);
  assert.deepEqual(Object.keys((await reopened.read()).apps).sort(), ["a", "b", "c", "d"]);
});

Deno.test("a refused update leaves the file as it was", async () => {
  const dir = await Deno.makeTempDir();
  const state = new State(await EmbeddedBackend.open(dir));
  await state.addApp(app("shop"));
  const before = await Deno.readTextFile(`${dir}/state.json`);
  await assert.rejects(state.addApp(app("shop")));
  assert.equal(await Deno.readTextFile(`${dir}/state.json`), before);
});

Deno.test("a corrupt state file is reported naming the file and the key, never dropped", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/state.json`, "{not json");
  await assert.rejects(
    EmbeddedBackend.open(dir),
    (e: Error) => e.message.includes(`${dir}/state.json`) && e.message.includes("not JSON"),
  );
  await Deno.writeTextFile(
    `${dir}/state.json`,
    JSON.stringify({
      apps: { shop: { ...app("shop"), latency_slo_micros: "soon" } },
      versions: {},
      current_versions: {},
      links: {},
    }),
  );
  await assert.rejects(
    EmbeddedBackend.open(dir),
    (e: Error) => e.message.includes('"apps.shop.latency_slo_micros"'),
  );
});
