/**
 * The management API through Hono's in-process requests, over a real embedded state store: every
 * endpoint's happy path with the original client's request bodies, and the rejections of bad input.
 * Replicas are given here; the serving core that reports them is tested with the core.
 */

import assert from "node:assert/strict";
import { Hono } from "hono";
import { EmbeddedBackend } from "../../state/embedded.ts";
import { State } from "../../state/store.ts";
import { installCommon } from "../http.ts";
import { createAdminApi, type ReplicaInfo } from "./routes.ts";
import { initialState } from "../../policy/state.ts";

const REPLICA: ReplicaInfo = {
  model_name: "price",
  model_version: "1",
  model_replica_id: 0,
  zmq_connection_id: 3,
  input_type: "doubles",
  connected_at_ms: 1_000,
  last_seen_ms: 2_000,
};

/** The admin API mounted as `main.ts` mounts it, with a 4 KiB body limit. */
async function server(replicas: readonly ReplicaInfo[] = [REPLICA], admin_token?: string): Promise<Hono> {
  const app = new Hono();
  installCommon(app);
  app.route(
    "/admin",
    createAdminApi({
      state: new State(await EmbeddedBackend.open()),
      replicas: () => replicas,
      managed: () => [],
      log_path: () => undefined,
      learned: () => initialState(),
      admin_token,
      max_body_bytes: 4096,
    }),
  );
  return app;
}

interface Reply {
  status: number;
  type: string;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

async function post(app: Hono, endpoint: string, body: unknown): Promise<Reply> {
  const res = await app.request(`/admin/${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get("content-type") ?? "", text, json };
}

/** A client bound to a fresh server. */
async function admin(replicas?: readonly ReplicaInfo[]) {
  const app = await server(replicas);
  return (endpoint: string, body: unknown) => post(app, endpoint, body);
}

// The bodies clipper_admin.py sends.
const APP = { name: "shop", input_type: "doubles", default_output: "-1", latency_slo_micros: 20000 };
const MODEL = {
  model_name: "price",
  model_version: "1",
  labels: ["a"],
  input_type: "doubles",
  container_name: "clipper/noop-container",
  model_data_path: "DEPRECATED",
  batch_size: -1,
};
const LINK = { app_name: "shop", model_names: ["price"] };

/** Asserts a 200 plain-text confirmation. */
function ok(reply: Reply) {
  assert.equal(reply.status, 200, reply.text);
  assert.ok(reply.type.startsWith("text/plain"), reply.type);
  assert.ok(reply.text.length > 0);
}

Deno.test("add_app, add_model and add_model_links answer 200 with a text confirmation", async () => {
  const call = await admin();
  ok(await call("add_app", APP));
  ok(await call("add_model", MODEL));
  ok(await call("add_model_links", LINK));
});

Deno.test("get_application reports the app as the original did, with its linked model", async () => {
  const call = await admin();
  await call("add_app", APP);
  await call("add_model", MODEL);
  await call("add_model_links", LINK);
  const reply = await call("get_application", { name: "shop" });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json, {
    name: "shop",
    input_type: "doubles",
    default_output: "-1",
    latency_slo_micros: 20000,
    linked_models: ["price"],
    policy: "DefaultOutputSelectionPolicy",
  });
});

Deno.test("get_linked_models lists the model linked to an app", async () => {
  const call = await admin();
  await call("add_app", APP);
  assert.deepEqual((await call("get_linked_models", { app_name: "shop" })).json, []);
  await call("add_model", MODEL);
  await call("add_model_links", LINK);
  assert.deepEqual((await call("get_linked_models", { app_name: "shop" })).json, ["price"]);
});

Deno.test("get_all_applications lists names, or whole records when verbose", async () => {
  const call = await admin();
  await call("add_app", APP);
  await call("add_app", { ...APP, name: "bank" });
  assert.deepEqual((await call("get_all_applications", { verbose: false })).json.sort(), ["bank", "shop"]);
  const verbose = (await call("get_all_applications", { verbose: true })).json;
  assert.deepEqual(verbose.map((a: { name: string }) => a.name).sort(), ["bank", "shop"]);
  assert.equal(verbose[0].latency_slo_micros, 20000);
});

Deno.test("get_model reports the version as the original did, and whether it is current", async () => {
  const call = await admin();
  await call("add_model", MODEL);
  const reply = await call("get_model", { model_name: "price", model_version: "1" });
  assert.deepEqual(reply.json, {
    model_name: "price",
    model_version: "1",
    input_type: "doubles",
    labels: ["a"],
    container_name: "clipper/noop-container",
    model_data_path: "DEPRECATED",
    is_current_version: true,
    batch_size: -1,
    batching: "aimd",
    batch_delay_micros: 0,
    container_command: [],
  });
});

Deno.test("add_model fills in labels, paths and adaptive batching when they are left out", async () => {
  const call = await admin();
  ok(await call("add_model", { model_name: "price", model_version: "1", input_type: "doubles" }));
  const model = (await call("get_model", { model_name: "price", model_version: "1" })).json;
  assert.deepEqual(model.labels, []);
  assert.equal(model.container_name, "");
  assert.equal(model.model_data_path, "");
  assert.equal(model.batch_size, -1);
  assert.equal(model.batching, "aimd");
  assert.equal(model.batch_delay_micros, 0);
});

Deno.test("add_model takes quantile batching and a batch delay, and set_model_batching changes only what it names", async () => {
  const call = await admin();
  ok(await call("add_model", { ...MODEL, batching: "quantile", batch_delay_micros: 2_000 }));
  const get = async () => (await call("get_model", { model_name: "price", model_version: "1" })).json;
  assert.deepEqual(
    [(await get()).batch_size, (await get()).batching, (await get()).batch_delay_micros],
    [-1, "quantile", 2_000],
  );
  const set = await call("set_model_batching", {
    model_name: "price",
    model_version: "1",
    batch_delay_micros: 0,
  });
  ok(set);
  assert.match(set.text, /"price:1"/);
  const after = await get();
  assert.deepEqual([after.batch_size, after.batching, after.batch_delay_micros], [-1, "quantile", 0]);
  ok(
    await call("set_model_batching", {
      model_name: "price",
      model_version: "1",
      batch_size: 16,
      batching: "aimd",
    }),
  );
  const fixed = await get();
  assert.deepEqual([fixed.batch_size, fixed.batching, fixed.batch_delay_micros], [16, "aimd", 0]);
});

Deno.test("an input type alias is stored canonically and reported with the original's name", async () => {
  const call = await admin();
  await call("add_app", { ...APP, input_type: "i" });
  await call("add_model", { ...MODEL, input_type: "integer" });
  ok(await call("add_model_links", LINK));
  assert.equal((await call("get_application", { name: "shop" })).json.input_type, "integers");
  assert.equal(
    (await call("get_model", { model_name: "price", model_version: "1" })).json.input_type,
    "integers",
  );
});

Deno.test("set_model_version moves the current version and get_all_models shows which is current", async () => {
  const call = await admin();
  await call("add_model", MODEL);
  await call("add_model", { ...MODEL, model_version: "2" });
  assert.deepEqual((await call("get_all_models", { verbose: false })).json.sort(), ["price:1", "price:2"]);
  ok(await call("set_model_version", { model_name: "price", model_version: "1" }));
  const all = (await call("get_all_models", { verbose: true })).json as {
    model_version: string;
    is_current_version: boolean;
  }[];
  assert.deepEqual(
    all.map((m) => [m.model_version, m.is_current_version]).sort(),
    [["1", true], ["2", false]],
  );
});

Deno.test("delete_versioned_model removes the version so that get_model answers {}", async () => {
  const call = await admin();
  await call("add_model", MODEL);
  ok(await call("delete_versioned_model", { model_name: "price", model_version: "1" }));
  const reply = await call("get_model", { model_name: "price", model_version: "1" });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json, {});
});

Deno.test("delete_model_links unlinks the model and delete_app removes the app", async () => {
  const call = await admin();
  await call("add_app", APP);
  await call("add_model", MODEL);
  await call("add_model_links", LINK);
  ok(await call("delete_model_links", LINK));
  assert.deepEqual((await call("get_linked_models", { app_name: "shop" })).json, []);
  ok(await call("delete_app", { name: "shop" }));
  const reply = await call("get_application", { name: "shop" });
  assert.equal(reply.status, 200, "the original answers an unknown app with an empty object");
  assert.deepEqual(reply.json, {});
});

Deno.test("get_all_containers lists name:version:replica ids, or whole records when verbose", async () => {
  const call = await admin([REPLICA, { ...REPLICA, model_replica_id: 1, zmq_connection_id: 4 }]);
  assert.deepEqual((await call("get_all_containers", { verbose: false })).json, ["price:1:0", "price:1:1"]);
  const verbose = (await call("get_all_containers", { verbose: true })).json;
  assert.deepEqual(verbose.map((r: { model_replica_id: number }) => r.model_replica_id), [0, 1]);
});

Deno.test("get_container reports a connected replica with its model_id, or {} for an unknown one", async () => {
  const call = await admin();
  const found = await call("get_container", { model_name: "price", model_version: "1", replica_id: 0 });
  assert.deepEqual(found.json, {
    model_id: "price:1",
    model_name: "price",
    model_version: "1",
    model_replica_id: 0,
    zmq_connection_id: 3,
    input_type: "doubles",
    connected_at_ms: 1_000,
    last_seen_ms: 2_000,
  });
  const missing = await call("get_container", { model_name: "price", model_version: "1", replica_id: 9 });
  assert.equal(missing.status, 200);
  assert.deepEqual(missing.json, {});
});

Deno.test("get_state answers the app's default output as text, as the original's default policy did", async () => {
  const call = await admin();
  await call("add_app", { ...APP, default_output: "no answer" });
  const reply = await call("get_state", { app_name: "shop", uid: 0 });
  assert.equal(reply.status, 200);
  assert.equal(reply.text, "no answer");
});

Deno.test("ping answers PONG", async () => {
  const app = await server();
  const res = await app.request("/admin/ping");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "PONG");
});

Deno.test("an unknown admin path, or a known one with the wrong method, is a JSON 404", async () => {
  const app = await server();
  for (const [method, path] of [["POST", "/admin/add_everything"], ["GET", "/admin/add_app"]]) {
    const res = await app.request(path!, { method, body: method === "POST" ? "{}" : undefined });
    assert.equal(res.status, 404, `${method} ${path}`);
    const body = await res.json();
    assert.equal(body.code, "route_not_found");
    assert.ok(body.cause.includes(path!), body.cause);
  }
});

Deno.test("the admin app answers errors as JSON even when mounted on a bare Hono", async () => {
  const bare = new Hono();
  bare.route(
    "/admin",
    createAdminApi({
      state: new State(await EmbeddedBackend.open()),
      replicas: () => [],
      managed: () => [],
      log_path: () => undefined,
      learned: () => initialState(),
      max_body_bytes: 4096,
    }),
  );
  const refused = await post(bare, "delete_app", { name: "ghost" });
  assert.equal(refused.json.code, "app_not_found");
  assert.deepEqual(Object.keys(refused.json).sort(), ["cause", "code", "error"]);
  assert.equal((await post(bare, "nothing_here", {})).json.code, "route_not_found");
});

Deno.test("a cause names the field, the rule and the value sent", async () => {
  const call = await admin();
  assert.equal(
    (await call("add_app", { ...APP, latency_slo_micros: "abc" })).json.cause,
    'Invalid "latency_slo_micros": expected a positive integer of at most 2147483647, got "abc"',
  );
  const { name: _, ...nameless } = APP;
  assert.equal(
    (await call("add_app", nameless)).json.cause,
    `Invalid "name": expected 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit, ` +
      "but it is missing",
  );
});

const ENDPOINTS = [
  "add_app",
  "delete_app",
  "add_model",
  "set_model_version",
  "delete_versioned_model",
  "add_model_links",
  "delete_model_links",
  "get_all_applications",
  "get_application",
  "get_linked_models",
  "get_all_models",
  "get_model",
  "get_all_containers",
  "get_container",
  "get_state",
];

Deno.test("every endpoint refuses malformed JSON and a body that is not an object", async () => {
  const call = await admin();
  for (const endpoint of ENDPOINTS) {
    const malformed = await call(endpoint, "{nope");
    assert.equal(malformed.status, 400, endpoint);
    assert.equal(malformed.json.code, "invalid_json", endpoint);
    assert.equal(malformed.json.error, "Json error", endpoint);
    const array = await call(endpoint, "[]");
    assert.equal(array.status, 400, endpoint);
    assert.equal(array.json.code, "invalid_request", endpoint);
  }
});

// [what is refused, endpoint, body, status, code, text the cause must contain]
const REFUSALS: [string, string, unknown, number, string, string][] = [
  [
    "add_model refuses an unknown batching",
    "add_model",
    { ...MODEL, model_version: "9", batching: "greedy" },
    400,
    "invalid_request",
    '"batching"',
  ],
  [
    "add_model refuses a negative batch delay",
    "add_model",
    { ...MODEL, model_version: "9", batch_delay_micros: -1 },
    400,
    "invalid_request",
    '"batch_delay_micros"',
  ],
  [
    "add_model refuses a batch delay over ten seconds",
    "add_model",
    { ...MODEL, model_version: "9", batch_delay_micros: 10_000_001 },
    400,
    "invalid_request",
    '"batch_delay_micros"',
  ],
  [
    "set_model_batching refuses an unknown model",
    "set_model_batching",
    { model_name: "ghost", model_version: "1", batch_size: 4 },
    404,
    "model_not_found",
    '"ghost:1"',
  ],
  [
    "set_model_batching refuses a call that changes nothing",
    "set_model_batching",
    { model_name: "price", model_version: "1" },
    400,
    "invalid_request",
    "at least one of",
  ],
  [
    "set_model_batching refuses a batch size of 0",
    "set_model_batching",
    { model_name: "price", model_version: "1", batch_size: 0 },
    400,
    "invalid_request",
    '"batch_size"',
  ],
  ["add_app refuses a second app of the same name", "add_app", APP, 400, "app_exists", '"shop"'],
  [
    "add_app refuses a name with a space",
    "add_app",
    { ...APP, name: "bad name" },
    400,
    "invalid_request",
    '"name"',
  ],
  [
    "add_app refuses a name over 128 characters",
    "add_app",
    { ...APP, name: "a".repeat(129) },
    400,
    "invalid_request",
    '"name"',
  ],
  [
    "add_app refuses an unknown input type",
    "add_app",
    { ...APP, input_type: "complex" },
    400,
    "invalid_request",
    '"input_type"',
  ],
  [
    "add_app refuses an input type in capitals, as the original did",
    "add_app",
    { ...APP, input_type: "Doubles" },
    400,
    "invalid_request",
    '"input_type"',
  ],
  [
    "add_app refuses a default output that is not a string",
    "add_app",
    { ...APP, default_output: 5 },
    400,
    "invalid_request",
    '"default_output"',
  ],
  [
    "add_app refuses a latency objective of zero",
    "add_app",
    { ...APP, latency_slo_micros: 0 },
    400,
    "invalid_request",
    '"latency_slo_micros"',
  ],
  [
    "add_app refuses a fractional latency objective",
    "add_app",
    { ...APP, latency_slo_micros: 1.5 },
    400,
    "invalid_request",
    "got 1.5",
  ],
  ["delete_app refuses an unknown app", "delete_app", { name: "ghost" }, 404, "app_not_found", '"ghost"'],
  ["delete_app refuses a missing name", "delete_app", {}, 400, "invalid_request", "missing"],
  [
    "add_model refuses a version with ':'",
    "add_model",
    { ...MODEL, model_version: "1:2" },
    400,
    "invalid_request",
    '"model_version"',
  ],
  [
    "add_model refuses a model name with ','",
    "add_model",
    { ...MODEL, model_name: "a,b" },
    400,
    "invalid_request",
    '"model_name"',
  ],
  [
    "add_model refuses a label with ','",
    "add_model",
    { ...MODEL, labels: ["a,b"] },
    400,
    "invalid_request",
    '"labels.0"',
  ],
  [
    "add_model refuses labels that are not an array",
    "add_model",
    { ...MODEL, labels: "a" },
    400,
    "invalid_request",
    '"labels"',
  ],
  [
    "add_model refuses a batch size of 0",
    "add_model",
    { ...MODEL, batch_size: 0 },
    400,
    "invalid_request",
    '"batch_size"',
  ],
  [
    "add_model refuses a batch size below -1",
    "add_model",
    { ...MODEL, batch_size: -2 },
    400,
    "invalid_request",
    '"batch_size"',
  ],
  ["add_model refuses a version that exists", "add_model", MODEL, 400, "model_exists", '"price:1"'],
  [
    "add_model refuses a version of a linked model with another input type",
    "add_model",
    { ...MODEL, model_version: "2", input_type: "strings" },
    400,
    "input_type_mismatch",
    '"shop"',
  ],
  [
    "set_model_version refuses an unknown version",
    "set_model_version",
    { model_name: "price", model_version: "7" },
    404,
    "model_not_found",
    '"7"',
  ],
  [
    "set_model_version refuses an unknown model",
    "set_model_version",
    { model_name: "ghost", model_version: "1" },
    404,
    "model_not_found",
    '"ghost"',
  ],
  [
    "delete_versioned_model refuses a missing version",
    "delete_versioned_model",
    { model_name: "price" },
    400,
    "invalid_request",
    '"model_version"',
  ],
  [
    "delete_versioned_model refuses an unknown version",
    "delete_versioned_model",
    { model_name: "price", model_version: "7" },
    404,
    "model_not_found",
    '"price:7"',
  ],
  [
    "add_model_links refuses model_names that are not an array",
    "add_model_links",
    { ...LINK, model_names: "price" },
    400,
    "invalid_request",
    '"model_names"',
  ],
  [
    "add_model_links refuses an unknown app",
    "add_model_links",
    { ...LINK, app_name: "ghost" },
    404,
    "app_not_found",
    '"ghost"',
  ],
  [
    "add_model_links refuses an unknown model",
    "add_model_links",
    { app_name: "bank", model_names: ["ghost"] },
    404,
    "model_not_found",
    '"ghost"',
  ],
  [
    "add_model_links refuses a model of another input type",
    "add_model_links",
    { app_name: "words", model_names: ["price"] },
    400,
    "input_type_mismatch",
    '"strings"',
  ],
  [
    "add_app refuses a policy that does not exist, naming the valid ones",
    "add_app",
    { ...APP, name: "bandit", policy: "thompson" },
    400,
    "invalid_request",
    "expected one of default, exp3, exp4, epsilon_greedy, ucb1",
  ],
  [
    "add_app refuses policy_params out of range, naming the param",
    "add_app",
    { ...APP, name: "bandit", policy: "exp3", policy_params: { gamma: 1.5 } },
    400,
    "invalid_request",
    "policy_params.gamma",
  ],
  [
    "set_app_policy refuses an unknown app",
    "set_app_policy",
    { name: "ghost", policy: "exp3" },
    404,
    "app_not_found",
    '"ghost"',
  ],
  [
    "set_app_policy refuses a param another policy takes",
    "set_app_policy",
    { name: "shop", policy: "ucb1", policy_params: { epsilon: 0.2 } },
    400,
    "invalid_request",
    "epsilon",
  ],
  [
    "add_model_links refuses a model linked already",
    "add_model_links",
    { app_name: "shop", model_names: ["price"] },
    400,
    "invalid_request",
    "already linked",
  ],
  [
    "add_model_links refuses an empty list",
    "add_model_links",
    { app_name: "shop", model_names: [] },
    400,
    "invalid_request",
    "no model",
  ],
  [
    "delete_model_links refuses a model that is not linked",
    "delete_model_links",
    { app_name: "shop", model_names: ["tax"] },
    400,
    "link_not_found",
    '"tax"',
  ],
  [
    "delete_model_links refuses an unknown app",
    "delete_model_links",
    { app_name: "ghost", model_names: ["price"] },
    404,
    "app_not_found",
    '"ghost"',
  ],
  [
    "get_all_applications refuses a verbose that is not a boolean",
    "get_all_applications",
    { verbose: "yes" },
    400,
    "invalid_request",
    '"verbose"',
  ],
  [
    "get_application refuses a name that is not a string",
    "get_application",
    { name: 5 },
    400,
    "invalid_request",
    '"name"',
  ],
  [
    "get_linked_models refuses an unknown app",
    "get_linked_models",
    { app_name: "ghost" },
    404,
    "app_not_found",
    '"ghost"',
  ],
  [
    "get_linked_models refuses a missing app name",
    "get_linked_models",
    {},
    400,
    "invalid_request",
    '"app_name"',
  ],
  [
    "get_all_models refuses a verbose of 1",
    "get_all_models",
    { verbose: 1 },
    400,
    "invalid_request",
    '"verbose"',
  ],
  [
    "get_model refuses a missing version",
    "get_model",
    { model_name: "price" },
    400,
    "invalid_request",
    '"model_version"',
  ],
  [
    "get_all_containers refuses a verbose of null",
    "get_all_containers",
    { verbose: null },
    400,
    "invalid_request",
    '"verbose"',
  ],
  [
    "get_container refuses a negative replica id",
    "get_container",
    { model_name: "price", model_version: "1", replica_id: -1 },
    400,
    "invalid_request",
    '"replica_id"',
  ],
  [
    "get_container refuses a missing replica id",
    "get_container",
    { model_name: "price", model_version: "1" },
    400,
    "invalid_request",
    '"replica_id"',
  ],
  [
    "get_state refuses an unknown app",
    "get_state",
    { app_name: "ghost", uid: 0 },
    404,
    "app_not_found",
    '"ghost"',
  ],
  [
    "get_state refuses a uid that is not a number",
    "get_state",
    { app_name: "shop", uid: "me" },
    400,
    "invalid_request",
    '"uid"',
  ],
];

Deno.test("bad input is refused with the right status, code and a cause naming what is wrong", async (t) => {
  const call = await admin();
  // shop (doubles) links price; bank (doubles) links nothing; words takes strings; tax is doubles.
  await call("add_app", APP);
  await call("add_app", { ...APP, name: "bank" });
  await call("add_app", { ...APP, name: "words", input_type: "strings" });
  await call("add_model", MODEL);
  await call("add_model", { ...MODEL, model_name: "tax" });
  ok(await call("add_model_links", LINK));
  for (const [name, endpoint, body, status, code, fragment] of REFUSALS) {
    await t.step(name, async () => {
      const reply = await call(endpoint, body);
      assert.equal(reply.status, status, reply.text);
      assert.deepEqual(Object.keys(reply.json).sort(), ["cause", "code", "error"]);
      assert.equal(reply.json.code, code, reply.text);
      assert.ok(String(reply.json.cause).includes(fragment), `${reply.text} lacks ${fragment}`);
    });
  }
});

Deno.test("a refused write changes nothing", async () => {
  const call = await admin();
  await call("add_app", APP);
  await call("add_model", MODEL);
  await call("add_model_links", LINK);
  await call("add_model", { ...MODEL, model_version: "2", input_type: "strings" });
  assert.deepEqual((await call("get_all_models", { verbose: false })).json, ["price:1"]);
});

Deno.test("a body over the size limit is refused with 413", async () => {
  const call = await admin();
  const big = await call("add_app", { ...APP, default_output: "x".repeat(5000) });
  assert.equal(big.status, 413);
  assert.equal(big.json.code, "body_too_large");
});

Deno.test("an app's policy is set at add_app or later, and get_app_policy shows it with its params and models", async () => {
  const app = await server();
  assert.equal(
    (await post(app, "add_app", { ...APP, policy: "exp4", policy_params: { combine: "mean" } })).status,
    200,
  );
  await post(app, "add_model", MODEL);
  await post(app, "add_model_links", LINK);
  const read = async (query: string) => {
    const res = await app.request(`/admin/get_app_policy?${query}`);
    return { status: res.status, json: await res.json() };
  };
  const exp4 = await read("name=shop&uid=7");
  assert.equal(exp4.status, 200);
  assert.equal(exp4.json.policy, "exp4");
  assert.equal(exp4.json.uid, "7");
  assert.equal(exp4.json.policy_params.combine, "mean");
  assert.equal(exp4.json.policy_params.min_confidence, 0, "params are shown with their defaults");
  assert.deepEqual(exp4.json.models, [{ model: "price", weight: 1, feedback_count: 0, mean_loss: null }]);
  assert.equal((await post(app, "set_app_policy", { name: "shop", policy: "epsilon_greedy" })).status, 200);
  assert.equal((await read("name=shop")).json.policy, "epsilon_greedy");
  assert.equal((await read("name=shop")).json.uid, "0");
  assert.equal((await post(app, "get_application", { name: "shop" })).json.policy, "epsilon_greedy");
  await post(app, "set_app_policy", { name: "shop" });
  assert.equal((await read("name=shop")).json.policy, "default");
  assert.equal((await read("name=ghost")).status, 404);
  assert.equal((await read("")).json.code, "invalid_request");
});

Deno.test("with an admin token, every call but the ping needs it as a bearer token", async () => {
  const token = "s3cret-token-0123456789";
  const app = await server([REPLICA], token);
  const call = (path: string, authorization?: string, method = "POST") =>
    app.request(`/admin/${path}`, {
      method,
      headers: authorization ? { authorization, "content-type": "application/json" } : {},
      body: method === "POST" ? JSON.stringify(APP) : undefined,
    });
  const anonymous = await call("add_app");
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer/);
  const body = await anonymous.json();
  assert.equal(body.code, "unauthorized");
  assert.match(body.cause, /Authorization: Bearer/);
  const wrong = await call("add_app", "Bearer s3cret-token-0123456780");
  assert.equal(wrong.status, 401);
  assert.doesNotMatch((await wrong.json()).cause, /0123456789/, "the cause never shows the token");
  assert.equal((await call("add_app", `Basic ${token}`)).status, 401);
  assert.equal((await call("get_app_policy?name=shop", undefined, "GET")).status, 401);
  assert.equal((await call("add_app", `Bearer ${token}`)).status, 200);
  assert.equal((await call("get_app_policy?name=shop", `Bearer ${token}`, "GET")).status, 200);
  const ping = await call("ping", undefined, "GET");
  assert.deepEqual([ping.status, await ping.text()], [200, "PONG"], "liveness needs no token");
});
