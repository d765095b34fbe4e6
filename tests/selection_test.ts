/**
 * Model selection end to end: applications linking several real Python models, policies that learn from
 * `/update` feedback (per user), ensembles that answer at their deadline without a slow member, what was
 * learned surviving a restart and shared through Redis, and feedback's bad input.
 */
import assert from "node:assert/strict";
import { startRedis } from "../src/state/testing_redis.ts";
import { Container, Server, withServer } from "./harness.ts";

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;

interface Answer {
  output: unknown;
  default: boolean;
  default_explanation?: string;
  models_used?: string[];
  models_missing?: string[];
  confidence?: number;
}

interface Feedback {
  models_scored: { model: string; loss: number }[];
  models_unscored: { model: string; reason: string }[];
}

interface PolicyView {
  policy: string;
  uid: string;
  models: { model: string; weight: number; feedback_count: number; mean_loss: number | null }[];
}

async function admin(server: Server, endpoint: string, body: unknown): Promise<void> {
  const r = await server.admin(endpoint, body);
  assert.equal(r.status, 200, `${endpoint}: ${r.text}`);
}

/** Registers each model's version 1 and an app linking them all, with `policy`. */
async function multiModelApp(
  server: Server,
  app: string,
  models: readonly string[],
  policy: string,
  options: { policy_params?: Record<string, unknown>; slo_micros?: number; input_type?: string } = {},
): Promise<void> {
  const input_type = options.input_type ?? "doubles";
  await admin(server, "add_app", {
    name: app,
    input_type,
    default_output: "-1",
    latency_slo_micros: options.slo_micros ?? 2_000_000,
    policy,
    policy_params: options.policy_params ?? {},
  });
  for (const model of models) {
    const exists = (await server.admin("get_model", { model_name: model, model_version: "1" })).body;
    if (exists && Object.keys(exists as object).length > 0) continue;
    await admin(server, "add_model", { model_name: model, model_version: "1", input_type });
  }
  await admin(server, "add_model_links", { app_name: app, model_names: models });
}

async function policyOf(server: Server, app: string, uid = "0"): Promise<PolicyView> {
  const r = await fetch(`${server.admin_url}/admin/get_app_policy?name=${app}&uid=${uid}`);
  assert.equal(r.status, 200);
  return await r.json();
}

function feedback(server: Server, app: string, body: unknown) {
  return fetch(`${server.query_url}/${app}/update`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
}

/** scikit-learn's digits the classifiers did not train on: 64 pixels and the true digit each. */
async function heldOutDigits(): Promise<{ images: number[][]; labels: number[] }> {
  const code = "import json; from sklearn.datasets import load_digits; d = load_digits(); " +
    "print(json.dumps({'images': d.data[1200:].tolist(), 'labels': d.target[1200:].tolist()}))";
  const out = await new Deno.Command(python, { args: ["-c", code], stdout: "piped" }).output();
  assert.ok(out.success, "loading the digits");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("exp3 sends most queries to the most accurate digit classifier, and exp4's vote is as good as it", async () => {
  await withServer(async (server, containers) => {
    const models = ["good", "fair", "poor"];
    await multiModelApp(server, "bandit", models, "exp3");
    await multiModelApp(server, "ensemble", models, "exp4");
    for (const m of models) {
      containers.push(Container.start(server, "digits.py", m, "doubles", { args: [m] }));
    }
    // Each imports scikit-learn and trains at start: seconds apiece on a busy machine.
    for (const m of models) await server.waitForReplicas(m, 1, 90_000);
    const { images, labels } = await heldOutDigits();
    const rounds = 400;
    const used: string[] = [];
    const ensembleRight: boolean[] = [];
    const goodRight: boolean[] = [];
    for (let i = 0; i < rounds; i++) {
      const input = images[i % images.length]!;
      const label = labels[i % labels.length]!;
      const picked = (await server.predict("bandit", { input })).body as Answer;
      assert.equal(picked.default, false, JSON.stringify(picked));
      used.push(picked.models_used![0]!);
      const voted = (await server.predict("ensemble", { input })).body as Answer;
      ensembleRight.push(voted.output === label);
      for (const app of ["bandit", "ensemble"]) {
        const r = await feedback(server, app, { uid: 0, input, label });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const scored = (r.body as Feedback).models_scored;
        if (app === "ensemble") goodRight.push(scored.find((s) => s.model === "good:1")!.loss === 0);
      }
    }
    const last = (xs: boolean[]) => xs.slice(-100).filter((x) => x).length / 100;
    const share = used.slice(-100).filter((m) => m === "good:1").length / 100;
    assert.ok(share > 0.6, `exp3 sent ${share} of the last 100 queries to the best model`);
    assert.ok(
      last(ensembleRight) >= last(goodRight) - 0.05,
      `exp4's accuracy ${last(ensembleRight)} against the best model's ${last(goodRight)}`,
    );
    const view = await policyOf(server, "bandit");
    assert.equal(view.models.reduce((best, m) => m.weight > best.weight ? m : best).model, "good");
    assert.equal(view.models.find((m) => m.model === "good")!.feedback_count, rounds);
    const metrics = (await server.get("/metrics")).body as {
      selection: Record<string, { policy: string; models: { model: string; mean_loss: number }[] }>;
    };
    assert.equal(metrics.selection.ensemble!.policy, "exp4");
    const losses = Object.fromEntries(metrics.selection.ensemble!.models.map((m) => [m.model, m.mean_loss]));
    assert.ok(losses.good! < losses.fair! && losses.fair! < losses.poor!, JSON.stringify(losses));
  });
});

/** Two models that disagree: `plus` answers an input's sum, `minus` its negation. */
function signedSums(server: Server, containers: Container[]): void {
  containers.push(Container.start(server, "signed_sum.py", "plus", "doubles", { args: ["1"] }));
  containers.push(Container.start(server, "signed_sum.py", "minus", "doubles", { args: ["-1"] }));
}

Deno.test("two users whose labels favour different models end up served by different models", async () => {
  await withServer(async (server, containers) => {
    await multiModelApp(server, "signs", ["plus", "minus"], "epsilon_greedy", {
      policy_params: { epsilon: 0 },
    });
    signedSums(server, containers);
    await server.waitForReplicas("plus");
    await server.waitForReplicas("minus");
    for (let i = 1; i <= 20; i++) {
      assert.equal(
        (await feedback(server, "signs", { uid: "alice", input: [i, 1], label: i + 1 })).status,
        200,
      );
      assert.equal(
        (await feedback(server, "signs", { uid: "bob", input: [i, 1], label: -(i + 1) })).status,
        200,
      );
    }
    const leader = async (uid: string) =>
      (await policyOf(server, "signs", uid)).models.reduce((a, b) => a.weight >= b.weight ? a : b).model;
    assert.deepEqual([await leader("alice"), await leader("bob")], ["plus", "minus"]);
    for (const [uid, expected] of [["alice", 5], ["bob", -5]] as const) {
      const answer = await server.predict("signs", { input: [2, 3], uid });
      assert.equal((answer.body as Answer).output, expected, `${uid}: ${answer.text}`);
      // The same query down the frontend's own path (the core forwards a uid written with escapes).
      const escaped = `{"input":[2,3],"uid":"\\u00${uid.charCodeAt(0).toString(16)}${uid.slice(1)}"}`;
      const forwarded = await server.predict("signs", escaped);
      const withoutId = (text: string) => text.replace(/"query_id":\d+/, "");
      assert.equal(withoutId(forwarded.text), withoutId(answer.text));
    }
    // A user never seen starts from the shared user's state, which no feedback changed.
    assert.equal((await policyOf(server, "signs", "carol")).models[0]!.feedback_count, 0);
  });
});

Deno.test("an ensemble answers within its objective without a member slower than it", async () => {
  await withServer(async (server, containers) => {
    const slo_micros = 300_000;
    await multiModelApp(server, "race", ["quick", "sleepy"], "exp4", { slo_micros });
    containers.push(Container.start(server, "signed_sum.py", "quick", "doubles", { args: ["1"] }));
    containers.push(Container.start(server, "slow.py", "sleepy", "doubles", { args: ["3"] }));
    await server.waitForReplicas("quick");
    await server.waitForReplicas("sleepy");
    const started = performance.now();
    const answer = (await server.predict("race", { input: [1, 2] })).body as Answer;
    const elapsed_ms = performance.now() - started;
    assert.equal(answer.output, 3);
    assert.equal(answer.default, false);
    assert.deepEqual([answer.models_used, answer.models_missing], [["quick:1"], ["sleepy:1"]]);
    // The sleepy member takes 3 s: an answer well before that came at the deadline without it.
    assert.ok(elapsed_ms < slo_micros / 1000 + 700, `answered after ${elapsed_ms} ms`);
  });
});

Deno.test("what a policy learned is the same after a restart", async () => {
  const state_dir = await Deno.makeTempDir({ prefix: "clipper-learned-" });
  let before: PolicyView[];
  {
    const server = await Server.start([], state_dir);
    const containers: Container[] = [];
    try {
      await multiModelApp(server, "signs", ["plus", "minus"], "exp3");
      signedSums(server, containers);
      await server.waitForReplicas("plus");
      await server.waitForReplicas("minus");
      for (let i = 0; i < 15; i++) {
        await feedback(server, "signs", { input: [i, 2], label: i + 2 });
        await feedback(server, "signs", { uid: 9, input: [i, 2], label: -(i + 2) });
      }
      before = [await policyOf(server, "signs"), await policyOf(server, "signs", "9")];
    } finally {
      await Promise.all(containers.map((c) => c.kill()));
      await server.stop();
    }
  }
  const again = await Server.start([], state_dir);
  try {
    assert.deepEqual([await policyOf(again, "signs"), await policyOf(again, "signs", "9")], before);
    // uid 9 started from the shared state as it stood at its first feedback.
    assert.equal(before[0]!.models[0]!.feedback_count, 15);
    assert.ok(before[1]!.models[1]!.feedback_count >= 15);
  } finally {
    await again.stop();
  }
});

Deno.test("a second frontend on the same Redis continues from what the first learned", async () => {
  const redis = await startRedis();
  const containers: Container[] = [];
  let learned: PolicyView;
  try {
    const a = await Server.start(["--redis", redis.url]);
    try {
      await multiModelApp(a, "signs", ["plus", "minus"], "ucb1");
      signedSums(a, containers);
      await a.waitForReplicas("plus");
      await a.waitForReplicas("minus");
      for (let i = 0; i < 10; i++) await feedback(a, "signs", { uid: 1, input: [i], label: -i - 1 });
      learned = await policyOf(a, "signs", "1");
      assert.equal(learned.models[1]!.feedback_count, 10);
    } finally {
      // Stopping writes what is still batched; a crash would lose at most the last flush interval's.
      await a.stop();
    }
    const b = await Server.start(["--redis", redis.url, "--manage-replicas", "false"]);
    try {
      assert.deepEqual(await policyOf(b, "signs", "1"), learned);
    } finally {
      await b.stop();
    }
  } finally {
    await Promise.all(containers.map((c) => c.kill()));
    await redis.stop();
  }
});

Deno.test("feedback's bad input gets a clear error with a stable code", async () => {
  await withServer(async (server) => {
    // Linked models with no replica: nothing can score an input.
    await multiModelApp(server, "idle", ["nobody"], "exp3");
    await multiModelApp(server, "scored", ["nobody"], "exp4", { policy_params: { loss: "squared" } });
    const cases: [string, unknown, number, string, string][] = [
      ["ghost", { uid: 0, input: [1], label: 1 }, 404, "app_not_found", '"ghost"'],
      ["scored", { uid: 0, input: [1], label: "cat" }, 400, "invalid_request", "label"],
      ["idle", { uid: 0, input: [1], label: true }, 400, "invalid_request", "label"],
      ["idle", { uid: 1.5, input: [1], label: 1 }, 400, "invalid_request", "uid"],
      ["idle", { uid: 0, label: 1 }, 400, "invalid_request", "input"],
      ["idle", { uid: 0, input: ["x"], label: 1 }, 400, "invalid_request", "input"],
      ["idle", { uid: 0, input: [1], label: 1 }, 400, "feedback_unscorable", "nobody:1: No connected models"],
    ];
    for (const [app, body, status, code, fragment] of cases) {
      const r = await feedback(server, app, body);
      assert.equal(r.status, status, `${app} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, code);
      assert.ok(r.body.cause.includes(fragment), r.body.cause);
    }
    const pinned = await server.predict("idle", { input: [1], version: "1" });
    assert.equal(pinned.status, 400);
    assert.match((pinned.body as { cause: string }).cause, /Cannot pin "version".*"exp3"/);
    const badUid = await server.predict("idle", { input: [1], uid: { id: 1 } });
    assert.equal(badUid.status, 400);
  });
});
