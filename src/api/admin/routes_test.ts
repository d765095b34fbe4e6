import assert from "node:assert/strict";
import type { ReplicaSnapshot } from "../../core/core.ts";
import { EmbeddedBackend } from "../../state/embedded.ts";
import { State } from "../../state/store.ts";
import { installCommon } from "../http.ts";
import { Hono } from "hono";
import { createAdminApi } from "./routes.ts";

const replica: ReplicaSnapshot = {
  model_name: "price",
  model_version: "1",
  model_replica_id: 0,
  zmq_connection_id: 3,
  input_type: "doubles",
  connected_at_ms: 1,
  last_seen_ms: 2,
  busy: false,
  batches_completed: 4,
};

/** The admin API over a real embedded state; replicas are given, as the real core is tested elsewhere. */
async function admin() {
  const app = new Hono();
  installCommon(app, 4096);
  app.route(
    "/admin",
    createAdminApi({ state: new State(await EmbeddedBackend.open()), replicas: () => [replica] }),
  );
  return async (endpoint: string, body: unknown) => {
    const res = await app.request(`/admin/${endpoint}`, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json: json as Record<string, unknown> & unknown[] };
  };
}

const APP = { name: "shop", input_type: "d", default_output: "-1", latency_slo_micros: 20000 };
const MODEL = {
  model_name: "price",
  model_version: "1",
  labels: ["a"],
  input_type: "doubles",
  container_name: "c",
  model_data_path: "/m",
};

Deno.test("the original request bodies set up an app, a model and a link that the reads report", async () => {
  const call = await admin();
  assert.equal((await call("add_app", APP)).status, 200);
  assert.equal((await call("add_model", MODEL)).status, 200);
  assert.equal((await call("add_model_links", { app_name: "shop", model_names: ["price"] })).status, 200);
  assert.deepEqual((await call("get_all_applications", { verbose: false })).json, ["shop"]);
  assert.deepEqual((await call("get_application", { name: "shop" })).json, {
    name: "shop",
    input_type: "doubles",
    default_output: "-1",
    latency_slo_micros: 20000,
    policy: "DefaultOutputSelectionPolicy",
    linked_models: ["price"],
  });
  assert.deepEqual((await call("get_linked_models", { app_name: "shop" })).json, ["price"]);
  assert.deepEqual((await call("get_all_models", {})).json, ["price:1"]);
  const model = (await call("get_model", { model_name: "price", model_version: "1" })).json;
  assert.equal(model.batch_size, -1, "batch_size defaults to adaptive");
  assert.equal(model.is_current_version, true);
  assert.deepEqual((await call("get_all_containers", { verbose: false })).json, ["price:1:0"]);
  const container =
    (await call("get_container", { model_name: "price", model_version: "1", replica_id: 0 })).json;
  assert.equal(container.model_id, "price:1");
  assert.deepEqual((await call("get_state", { app_name: "shop", uid: 0 })).json, {
    app_name: "shop",
    policy: "DefaultOutputSelectionPolicy",
    state: {},
  });
});

Deno.test("versions can be added, made current and deleted; links and apps can be removed", async () => {
  const call = await admin();
  await call("add_app", APP);
  await call("add_model", MODEL);
  await call("add_model", { ...MODEL, model_version: "2" });
  assert.equal((await call("set_model_version", { model_name: "price", model_version: "1" })).status, 200);
  const all = (await call("get_all_models", { verbose: true })).json as unknown as {
    model_version: string;
    is_current_version: boolean;
  }[];
  assert.deepEqual(all.map((m) => [m.model_version, m.is_current_version]), [["1", true], ["2", false]]);
  assert.equal(
    (await call("delete_versioned_model", { model_name: "price", model_version: "2" })).status,
    200,
  );
  await call("add_model_links", { app_name: "shop", model_names: ["price"] });
  assert.equal((await call("delete_model_links", { app_name: "shop", model_names: ["price"] })).status, 200);
  assert.equal((await call("delete_app", { name: "shop" })).status, 200);
  assert.deepEqual((await call("get_application", { name: "shop" })).json, {});
});

Deno.test("ping answers PONG and an unknown admin path is a JSON 404", async () => {
  const app = new Hono();
  installCommon(app, 4096);
  app.route("/admin", createAdminApi({ state: new State(await EmbeddedBackend.open()), replicas: () => [] }));
  assert.equal(await (await app.request("/admin/ping")).text(), "PONG");
  const missing = await app.request("/admin/add_everything", { method: "POST", body: "{}" });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, "route_not_found");
});

Deno.test("every endpoint refuses bad input with a 4xx naming the field", async () => {
  const call = await admin();
  await call("add_app", APP);
  await call("add_model", MODEL);
  const cases: [string, unknown, number, string, string][] = [
    ["add_app", "{nope", 400, "invalid_json", "JSON"],
    ["add_app", [], 400, "invalid_request", "object"],
    ["add_app", { ...APP, name: "bad name" }, 400, "invalid_request", '"name"'],
    ["add_app", { ...APP, input_type: "complex" }, 400, "invalid_request", '"input_type"'],
    ["add_app", { ...APP, latency_slo_micros: "fast" }, 400, "invalid_request", '"latency_slo_micros"'],
    ["add_app", { ...APP, latency_slo_micros: -5 }, 400, "invalid_request", '"latency_slo_micros"'],
    ["add_app", APP, 400, "app_exists", '"shop"'],
    ["delete_app", { name: "ghost" }, 404, "app_not_found", '"ghost"'],
    ["delete_app", {}, 400, "invalid_request", "missing"],
    ["add_model", { ...MODEL, model_version: "1:2" }, 400, "invalid_request", '"model_version"'],
    ["add_model", { ...MODEL, labels: ["a,b"] }, 400, "invalid_request", '"labels.0"'],
    ["add_model", { ...MODEL, batch_size: 0 }, 400, "invalid_request", '"batch_size"'],
    ["add_model", MODEL, 400, "model_exists", '"price:1"'],
    ["set_model_version", { model_name: "price", model_version: "7" }, 404, "model_not_found", '"7"'],
    ["delete_versioned_model", { model_name: "price" }, 400, "invalid_request", '"model_version"'],
    [
      "delete_versioned_model",
      { model_name: "price", model_version: "7" },
      404,
      "model_not_found",
      '"price:7"',
    ],
    ["add_model_links", { app_name: "shop", model_names: "price" }, 400, "invalid_request", '"model_names"'],
    ["add_model_links", { app_name: "shop", model_names: ["ghost"] }, 404, "model_not_found", '"ghost"'],
    [
      "add_model_links",
      { app_name: "shop", model_names: ["price", "price"] },
      400,
      "invalid_request",
      "exactly one",
    ],
    ["delete_model_links", { app_name: "shop", model_names: ["price"] }, 400, "link_not_found", '"price"'],
    ["get_all_applications", { verbose: "yes" }, 400, "invalid_request", '"verbose"'],
    ["get_application", { name: 5 }, 400, "invalid_request", '"name"'],
    ["get_linked_models", { app_name: "ghost" }, 404, "app_not_found", '"ghost"'],
    ["get_all_models", { verbose: 1 }, 400, "invalid_request", '"verbose"'],
    ["get_model", { model_name: "price" }, 400, "invalid_request", '"model_version"'],
    ["get_all_containers", { verbose: null }, 400, "invalid_request", '"verbose"'],
    [
      "get_container",
      { model_name: "price", model_version: "1", replica_id: -1 },
      400,
      "invalid_request",
      '"replica_id"',
    ],
    ["get_state", { app_name: "ghost" }, 404, "app_not_found", '"ghost"'],
  ];
  for (const [endpoint, body, status, code, fragment] of cases) {
    const r = await call(endpoint, body);
    assert.equal(r.status, status, `${endpoint} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.code, code, `${endpoint}: ${r.text}`);
    assert.ok(String(r.json.cause).includes(fragment), `${endpoint}: ${r.text} lacks ${fragment}`);
  }
  const big = await call("add_app", { ...APP, name: "big", default_output: "x".repeat(5000) });
  assert.equal(big.status, 413);
  assert.equal(big.json.code, "body_too_large");
});
