/**
 * The behaviour of configuration state, written once as a suite over a backend factory so that every
 * backend (embedded now, Redis next) runs the same checks.
 */
import assert from "node:assert/strict";
import { ClipperError, type ErrorCode } from "../errors.ts";
import { EmbeddedBackend } from "./embedded.ts";
import { RedisBackend } from "./redis.ts";
import { startRedis } from "./testing_redis.ts";
import {
  type AppRecord,
  DEFAULT_POLICY,
  type ModelVersionRecord,
  State,
  type StateBackend,
  type StateChange,
} from "./store.ts";

const shop: AppRecord = {
  name: "shop",
  input_type: "doubles",
  default_output: "-1",
  latency_slo_micros: 100_000,
  policy: DEFAULT_POLICY,
  policy_params: {},
};
const price = (
  version: string,
  input_type: ModelVersionRecord["input_type"] = "doubles",
): ModelVersionRecord => ({
  model_name: "price",
  model_version: version,
  labels: [],
  input_type,
  container_name: "c",
  model_data_path: "/tmp",
  batch_size: -1,
  batching: "aimd",
  batch_delay_micros: 0,
  container_command: [],
});

async function rejects(promise: Promise<unknown>, code: ErrorCode, fragment: string) {
  await assert.rejects(
    promise,
    (e: unknown) => e instanceof ClipperError && e.code === code && e.message.includes(fragment),
  );
}

export function stateSuite(backendName: string, makeBackend: () => Promise<StateBackend>) {
  const test = (name: string, body: (state: State) => Promise<void>) =>
    Deno.test(`${backendName}: ${name}`, async () => {
      const backend = await makeBackend();
      try {
        await body(new State(backend));
      } finally {
        await backend.close();
      }
    });

  test("an app is stored once and a second add is refused", async (state) => {
    await state.addApp(shop);
    await rejects(state.addApp(shop), "app_exists", '"shop"');
    assert.deepEqual((await state.read()).apps.shop, shop);
  });

  test("registering a version makes it current, and the current version can be moved back", async (state) => {
    await state.addModelVersion(price("1"));
    await state.addModelVersion(price("2"));
    assert.equal((await state.read()).current_versions.price, "2");
    await state.setCurrentVersion("price", "1");
    assert.equal((await state.read()).current_versions.price, "1");
    await rejects(state.setCurrentVersion("price", "9"), "model_not_found", '"9"');
    await rejects(state.addModelVersion(price("1")), "model_exists", '"price:1"');
  });

  test("a link needs an existing app, a model with a current version and the same input type", async (state) => {
    await state.addApp(shop);
    await rejects(state.addLinks("nope", ["price"]), "app_not_found", '"nope"');
    await rejects(state.addLinks("shop", ["price"]), "model_not_found", '"price"');
    await state.addModelVersion({ ...price("1", "ints"), model_name: "counter" });
    await rejects(state.addLinks("shop", ["counter"]), "input_type_mismatch", '"ints"');
    await state.addModelVersion(price("1"));
    await state.addLinks("shop", ["price"]);
    assert.deepEqual((await state.read()).links.shop, ["price"]);
    await rejects(state.addLinks("shop", ["price"]), "invalid_request", "already linked");
    await state.addModelVersion({ ...price("1"), model_name: "tax" });
    await state.addModelVersion({ ...price("1"), model_name: "fee" });
    await rejects(state.addLinks("shop", ["tax", "tax"]), "invalid_request", "already linked");
    await rejects(state.addLinks("shop", []), "invalid_request", "no model");
    await state.addLinks("shop", ["tax", "fee"]);
    assert.deepEqual((await state.read()).links.shop, ["price", "tax", "fee"], "a multi-model app, in order");
  });

  test("a model version's batching changes field by field, and unknown versions are refused", async (state) => {
    await state.addModelVersion(price("1"));
    await rejects(state.setModelBatching("price", "2", { batch_size: 4 }), "model_not_found", '"price:2"');
    await state.setModelBatching("price", "1", { batching: "quantile", batch_delay_micros: 500 });
    await state.setModelBatching("price", "1", { batch_size: 8 });
    const v = (await state.read()).versions["price:1"]!;
    assert.deepEqual([v.batch_size, v.batching, v.batch_delay_micros], [8, "quantile", 500]);
  });

  test("an app's policy and its parameters change, and unknown apps are refused", async (state) => {
    await state.addApp(shop);
    await rejects(state.setAppPolicy("nope", "exp3", {}), "app_not_found", '"nope"');
    await state.setAppPolicy("shop", "exp4", { combine: "mean" });
    const app = (await state.read()).apps.shop!;
    assert.deepEqual([app.policy, app.policy_params], ["exp4", { combine: "mean" }]);
  });

  test("a linked model cannot gain a version of another input type", async (state) => {
    await state.addApp(shop);
    await state.addModelVersion(price("1"));
    await state.addLinks("shop", ["price"]);
    await rejects(state.addModelVersion(price("2", "strings")), "input_type_mismatch", '"shop"');
  });

  test("deleting an app removes its links everywhere", async (state) => {
    await state.addApp(shop);
    await state.addModelVersion(price("1"));
    await state.addLinks("shop", ["price"]);
    await state.deleteApp("shop");
    const data = await state.read();
    assert.equal(data.apps.shop, undefined);
    assert.equal(data.links.shop, undefined);
    await rejects(state.deleteApp("shop"), "app_not_found", '"shop"');
  });

  test("deleting the current version leaves the model without a current version", async (state) => {
    await state.addModelVersion(price("1"));
    await state.deleteModelVersion("price", "1");
    const data = await state.read();
    assert.equal(data.versions["price:1"], undefined);
    assert.equal(data.current_versions.price, undefined);
    await rejects(state.deleteModelVersion("price", "1"), "model_not_found", '"price:1"');
  });

  test("unlinking a model that is not linked is refused and changes nothing", async (state) => {
    await state.addApp(shop);
    await state.addModelVersion(price("1"));
    await state.addLinks("shop", ["price"]);
    await rejects(state.deleteLinks("shop", ["other"]), "link_not_found", '"other"');
    assert.deepEqual((await state.read()).links.shop, ["price"]);
    await state.deleteLinks("shop", ["price"]);
    assert.deepEqual((await state.read()).links.shop, []);
  });

  test("subscribers hear every committed change and no refused one", async (state) => {
    let changes = 0;
    const stop = state.subscribe(() => changes++);
    await state.addApp(shop);
    await rejects(state.addApp(shop), "app_exists", "shop");
    assert.equal(changes, 1);
    stop();
    await state.deleteApp("shop");
    assert.equal(changes, 1);
  });

  test("each committed change is announced once, in order, with what changed", async (state) => {
    const heard: StateChange[] = [];
    const stop = state.subscribe((change) => heard.push(change));
    await state.addApp(shop);
    await state.addModelVersion(price("1"));
    await state.addModelVersion(price("2"));
    await state.setCurrentVersion("price", "1");
    await state.addLinks("shop", ["price"]);
    await state.deleteLinks("shop", ["price"]);
    await state.addLinks("shop", ["price"]);
    await state.deleteModelVersion("price", "1");
    await state.deleteModelVersion("price", "2");
    await state.deleteApp("shop");
    stop();
    assert.deepEqual(heard, [
      { kind: "app_added", app: shop },
      { kind: "model_version_added", version: price("1") },
      { kind: "model_version_added", version: price("2") },
      { kind: "current_version_set", model_name: "price", model_version: "1" },
      { kind: "links_added", app_name: "shop", model_names: ["price"] },
      { kind: "links_deleted", app_name: "shop", model_names: ["price"] },
      { kind: "links_added", app_name: "shop", model_names: ["price"] },
      { kind: "model_version_deleted", model_name: "price", model_version: "1", was_current: true },
      { kind: "model_version_deleted", model_name: "price", model_version: "2", was_current: false },
      { kind: "app_deleted", name: "shop", unlinked_models: ["price"] },
    ]);
  });

  test("a listener that throws does not stop the others or the change", async (state) => {
    let heard = 0;
    const quiet = console.error;
    console.error = () => {};
    try {
      state.subscribe(() => {
        throw new Error("boom");
      });
      state.subscribe(() => heard++);
      await state.addApp(shop);
    } finally {
      console.error = quiet;
    }
    assert.equal(heard, 1);
    assert.deepEqual(await state.getApp("shop"), shop);
  });

  test("the getters read back what was stored and report absence as undefined", async (state) => {
    assert.equal(await state.getApp("shop"), undefined);
    assert.equal((await state.read()).versions["price:1"], undefined);
    assert.equal((await state.read()).current_versions.price, undefined);
    await state.addApp(shop);
    await state.addApp({ ...shop, name: "bank" });
    await state.addModelVersion(price("1"));
    await state.addModelVersion({ ...price("1"), model_name: "tax" });
    const data = await state.read();
    assert.deepEqual(Object.keys(data.apps).sort(), ["bank", "shop"]);
    assert.deepEqual(data.versions["price:1"], price("1"));
    assert.deepEqual(Object.values(data.versions).map((v) => v.model_name).sort(), ["price", "tax"]);
    assert.deepEqual(data.versions["tax:1"], { ...price("1"), model_name: "tax" });
    assert.equal(data.current_versions.price, "1");
    assert.deepEqual(await state.getLinks("shop"), []);
    await state.addLinks("shop", ["price"]);
    assert.deepEqual(await state.getLinks("shop"), ["price"]);
    await rejects(state.getLinks("ghost"), "app_not_found", '"ghost"');
  });

  test("deleting the current version of a linked model leaves the link resolving to nothing", async (state) => {
    await state.addApp(shop);
    await state.addModelVersion(price("1"));
    await state.addLinks("shop", ["price"]);
    await state.deleteModelVersion("price", "1");
    assert.deepEqual(await state.getLinks("shop"), ["price"]);
    assert.equal((await state.read()).current_versions.price, undefined);
    await state.addModelVersion(price("2"));
    assert.equal((await state.read()).current_versions.price, "2");
  });

  test("a snapshot read is a copy that writers cannot change", async (state) => {
    await state.addApp(shop);
    const before = await state.read();
    await state.deleteApp("shop");
    assert.ok(before.apps.shop);
  });
}

/** `place` gives an opener of one storage place: each call opens a backend on the same stored data. */
function learnedSuite(backendName: string, place: () => Promise<() => Promise<StateBackend>>) {
  Deno.test(`${backendName}: learned states are stored in batches and read back by a backend opened again`, async () => {
    const open = await place();
    const first = await open();
    try {
      await new State(first).addApp(shop);
      await first.saveLearned({ shop: { "0": { models: { a: 1 } }, "7": { models: { b: 2 } } } });
      await first.saveLearned({ shop: { "7": { models: { b: 3 } } }, gone: { "1": {} } });
      await first.saveLearned({ gone: null });
    } finally {
      await first.close();
    }
    const again = await open();
    try {
      assert.deepEqual(await again.loadLearned(), {
        shop: { "0": { models: { a: 1 } }, "7": { models: { b: 3 } } },
      });
    } finally {
      await again.close();
    }
  });
}

stateSuite("embedded in memory", () => EmbeddedBackend.open());
stateSuite("embedded on disk", async () => EmbeddedBackend.open(await Deno.makeTempDir()));

// One real redis-server for this file; each test gets its own key prefix.
const redis = await startRedis();
globalThis.addEventListener("unload", () => void redis.stop());
stateSuite("redis", () => RedisBackend.open(redis.url, `test-${crypto.randomUUID()}:`));
learnedSuite("embedded on disk", async () => {
  const dir = await Deno.makeTempDir();
  return () => EmbeddedBackend.open(dir);
});
learnedSuite("redis", () => {
  const prefix = `learned-${crypto.randomUUID()}:`;
  return Promise.resolve(() => RedisBackend.open(redis.url, prefix));
});

Deno.test("redis: two backends racing to add the same app give exactly one success", async () => {
  const prefix = `race-${crypto.randomUUID()}:`;
  const [a, b] = [await RedisBackend.open(redis.url, prefix), await RedisBackend.open(redis.url, prefix)];
  try {
    const results = await Promise.allSettled([new State(a).addApp(shop), new State(b).addApp(shop)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(loser.reason instanceof ClipperError && loser.reason.code === "app_exists");
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("redis: a change made through one backend reaches another's subscribers", async () => {
  const prefix = `feed-${crypto.randomUUID()}:`;
  const [a, b] = [await RedisBackend.open(redis.url, prefix), await RedisBackend.open(redis.url, prefix)];
  try {
    const heard = new Promise<StateChange>((resolve) => b.subscribe(resolve));
    await new State(a).addApp(shop);
    assert.deepEqual(await heard, { kind: "resync" });
    assert.deepEqual(Object.keys((await b.read()).apps), ["shop"]);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("redis: an unreadable stored value is reported naming the key, never dropped", async () => {
  const prefix = `bad-${crypto.randomUUID()}:`;
  const writer = await RedisBackend.open(redis.url, prefix);
  await writer.close();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: redis.port });
  const command = `*3\r\n$3\r\nSET\r\n$${(prefix + "state").length}\r\n${prefix}state\r\n$5\r\n{oops\r\n`;
  await conn.write(new TextEncoder().encode(command));
  await conn.read(new Uint8Array(16));
  conn.close();
  await assert.rejects(
    RedisBackend.open(redis.url, prefix),
    (e: Error) => e.message.includes(`Redis key "${prefix}state"`),
  );
});
