import assert from "node:assert/strict";
import { ClipperError } from "../errors.ts";
import type { ModelBatching, NativeApp } from "../core/core.ts";
import { type AppRoute, Routes, type RoutingState } from "./routes.ts";

/** Records the core calls; the real core is exercised by the integration tests. */
function recordingCore() {
  const calls: string[] = [];
  const published: NativeApp[][] = [];
  let next = 0;
  return {
    calls,
    published,
    configureModel(name: string, version: string, type: string, b: ModelBatching, objective: number) {
      calls.push(
        `configure ${name}:${version} ${type} ${b.batch_size}/${b.batching}/${b.batch_delay_micros} ${objective}`,
      );
      return next++;
    },
    removeModel(id: number) {
      calls.push(`remove ${id}`);
    },
    publishApps(apps: readonly NativeApp[]) {
      published.push([...apps]);
    },
    setUserWeights(app: string, uid: string, weights: readonly number[]) {
      calls.push(`weights ${app} ${uid} ${weights.join(",")}`);
    },
  };
}

const shop: AppRoute = {
  name: "shop",
  input_type: "doubles",
  default_output: "-1",
  latency_slo_micros: 20_000,
  policy: "DefaultOutputSelectionPolicy",
  policy_params: {},
  linked_models: ["price"],
};

function state(overrides: Partial<RoutingState> = {}): RoutingState {
  return {
    apps: [shop],
    versions: [
      {
        model_name: "price",
        model_version: "1",
        input_type: "doubles",
        batch_size: -1,
        batching: "aimd",
        batch_delay_micros: 0,
      },
      {
        model_name: "price",
        model_version: "2",
        input_type: "doubles",
        batch_size: -1,
        batching: "aimd",
        batch_delay_micros: 0,
      },
    ],
    current_versions: new Map([["price", "2"]]),
    ...overrides,
  };
}

Deno.test("queries go to the current version of the linked model unless a version is pinned", () => {
  const routes = new Routes(recordingCore());
  routes.apply(state());
  const app = routes.app("shop")!;
  assert.equal(routes.target(app)?.label, "price:2");
  assert.equal(routes.target(app, "1")?.label, "price:1");
});

Deno.test("a pinned version that does not exist is a version_not_found error", () => {
  const routes = new Routes(recordingCore());
  routes.apply(state());
  assert.throws(
    () => routes.target(routes.app("shop")!, "9"),
    (err: unknown) =>
      err instanceof ClipperError && err.code === "version_not_found" && err.message.includes('"9"'),
  );
});

Deno.test("an app with no linked model, or a model with no version, has no target", () => {
  const routes = new Routes(recordingCore());
  routes.apply(state({ apps: [{ ...shop, linked_models: [] }] }));
  assert.equal(routes.target(routes.app("shop")!), undefined);
  routes.apply(state({ current_versions: new Map() }));
  assert.equal(routes.target(routes.app("shop")!), undefined);
});

Deno.test("model versions are registered once, re-registered on change and removed when deleted", () => {
  const core = recordingCore();
  const routes = new Routes(core);
  routes.apply(state());
  routes.apply(state());
  assert.deepEqual(core.calls, [
    "configure price:1 doubles -1/aimd/0 20000",
    "configure price:2 doubles -1/aimd/0 20000",
  ]);
  core.calls.length = 0;
  routes.apply(state({
    versions: [{
      model_name: "price",
      model_version: "2",
      input_type: "doubles",
      batch_size: 8,
      batching: "aimd",
      batch_delay_micros: 0,
    }],
  }));
  assert.deepEqual(core.calls, ["configure price:2 doubles 8/aimd/0 20000", "remove 0"]);
});

Deno.test("a change of batching or batch delay re-registers the model version with the core", () => {
  const core = recordingCore();
  const routes = new Routes(core);
  routes.apply(state());
  core.calls.length = 0;
  const [first, second] = state().versions;
  routes.apply(state({ versions: [first!, { ...second!, batching: "quantile", batch_delay_micros: 300 }] }));
  assert.deepEqual(core.calls, ["configure price:2 doubles -1/quantile/300 20000"]);
});

Deno.test("adaptive batching aims at the tightest objective of the apps linking the model", () => {
  const core = recordingCore();
  const routes = new Routes(core);
  routes.apply(state({ apps: [shop, { ...shop, name: "fast", latency_slo_micros: 5_000 }] }));
  assert.ok(core.calls.every((c) => c.endsWith(" 5000")), core.calls.join("; "));
});

Deno.test("an app that no longer exists is not routed", () => {
  const routes = new Routes(recordingCore());
  routes.apply(state());
  routes.apply(state({ apps: [] }));
  assert.equal(routes.app("shop"), undefined);
});

Deno.test("every change publishes each app's current route to the native query port", () => {
  const core = recordingCore();
  const routes = new Routes(core);
  routes.apply(state());
  assert.deepEqual(core.published.at(-1), [{
    name: "shop",
    input_type: 3,
    default_output: "-1",
    latency_slo_micros: 20_000,
    target: { model: 1, label: "price:2" },
  }]);
  routes.apply(state({ current_versions: new Map([["price", "1"]]) }));
  assert.deepEqual(core.published.at(-1)?.[0]?.target, { model: 0, label: "price:1" });
  routes.apply(state({ apps: [{ ...shop, linked_models: [] }] }));
  assert.equal(core.published.at(-1)?.[0]?.target, null);
  routes.apply(state({ apps: [] }));
  assert.deepEqual(core.published.at(-1), []);
});
