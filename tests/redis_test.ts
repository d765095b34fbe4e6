/**
 * Several frontends sharing one Redis: changes made through one are served by the other without a
 * restart, conflicting writes have one winner, and an outage degrades writes but not predictions.
 */
import assert from "node:assert/strict";
import { startRedis } from "../src/state/testing_redis.ts";
import { Container, Server, waitFor } from "./harness.ts";

const SUM = "clipper_container.examples.sum";

Deno.test("an app registered through frontend A is served by frontend B without a restart", async () => {
  const redis = await startRedis();
  const a = await Server.start(["--redis", redis.url]);
  const b = await Server.start(["--redis", redis.url]);
  const container = Container.start(b, SUM, "sum", "ints");
  try {
    await a.deploy("shop", "sum", "ints");
    await b.waitForReplicas("sum");
    const answer = await waitFor("frontend B to serve the app", async () => {
      const r = await b.predict("shop", { input: [2, 3] });
      return r.status === 200 && !(r.body as { default: boolean }).default ? r.body : undefined;
    });
    assert.equal((answer as { output: unknown }).output, 5);
    // And a deletion through B reaches A.
    assert.equal((await b.admin("delete_app", { name: "shop" })).status, 200);
    await waitFor("frontend A to forget the app", async () => {
      const r = await a.predict("shop", { input: [1] });
      return r.status === 404 ? true : undefined;
    });
  } finally {
    await container.kill();
    await Promise.all([a.stop(), b.stop()]);
    await redis.stop();
  }
});

Deno.test("two frontends adding the same app at once: exactly one wins, the other gets a 400", async () => {
  const redis = await startRedis();
  const a = await Server.start(["--redis", redis.url]);
  const b = await Server.start(["--redis", redis.url]);
  try {
    const app = { name: "race", input_type: "ints", default_output: "0", latency_slo_micros: 1000 };
    const results = await Promise.all([a.admin("add_app", app), b.admin("add_app", app)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 400]);
    const loser = results.find((r) => r.status === 400)!;
    assert.equal((loser.body as { code: string }).code, "app_exists");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await redis.stop();
  }
});

Deno.test("while Redis is down predictions go on, writes get a 503, and everything acknowledged survives", async () => {
  const dir = await Deno.makeTempDir();
  let redis = await startRedis(undefined, dir);
  const port = redis.port;
  const server = await Server.start(["--redis", redis.url]);
  const container = Container.start(server, SUM, "sum", "ints");
  try {
    await server.deploy("shop", "sum", "ints");
    await server.waitForReplicas("sum");
    // Load through the outage: every prediction must be answered by the model.
    let loading = true;
    const answers: { status: number; default?: boolean }[] = [];
    const load = (async () => {
      for (let i = 0; loading && i < 10_000; i++) {
        const r = await server.predict("shop", { input: [i] });
        answers.push({ status: r.status, default: (r.body as { default?: boolean } | undefined)?.default });
      }
    })();
    await redis.stop();
    await waitFor("the frontend to report itself degraded", async () => {
      const health = await server.get("/health");
      return (health.body as { status: string }).status === "degraded" ? true : undefined;
    });
    const served = await server.predict("shop", { input: [4, 5] });
    assert.deepEqual([
      (served.body as { output: unknown }).output,
      (served.body as { default: boolean }).default,
    ], [9, false]);
    const refused = await server.admin("add_app", {
      name: "later",
      input_type: "ints",
      default_output: "0",
      latency_slo_micros: 1000,
    });
    assert.equal(refused.status, 503);
    assert.equal((refused.body as { code: string }).code, "state_unavailable");
    const metrics = await server.get("/metrics");
    assert.equal((metrics.body as { state: { healthy: boolean } }).state.healthy, false);

    redis = await startRedis(port, dir);
    loading = false;
    await load;
    assert.ok(answers.length > 0);
    assert.deepEqual(answers.filter((a) => a.status !== 200 || a.default !== false), []);
    await waitFor("the frontend to reconnect", async () => {
      const health = await server.get("/health");
      return (health.body as { status: string }).status === "ok" ? true : undefined;
    });
    const apps = await server.admin("get_all_applications", { verbose: false });
    assert.deepEqual(apps.body, ["shop"]);
    const added = await server.admin("add_app", {
      name: "later",
      input_type: "ints",
      default_output: "0",
      latency_slo_micros: 1000,
    });
    assert.equal(added.status, 200, added.text);
  } finally {
    await container.kill();
    await server.stop();
    await redis.stop();
  }
});

Deno.test("a Redis restarted empty gets back every acknowledged app from the frontends, which keep serving", async () => {
  let redis = await startRedis();
  const port = redis.port;
  const a = await Server.start(["--redis", redis.url]);
  const b = await Server.start(["--redis", redis.url]);
  const container = Container.start(a, SUM, "sum", "ints");
  let fresh: Server | undefined;
  try {
    await a.deploy("shop", "sum", "ints");
    const app = (name: string) => ({
      name,
      input_type: "ints",
      default_output: "0",
      latency_slo_micros: 1000,
    });
    assert.equal((await b.admin("add_app", app("from_b"))).status, 200);
    await a.waitForReplicas("sum");
    await waitFor("frontend B to see both apps", async () => {
      const r = await b.admin("get_all_applications", { verbose: false });
      return (r.body as string[]).length === 2 ? true : undefined;
    });

    await redis.stop();
    redis = await startRedis(port); // persistence off: it comes back empty
    await waitFor("both frontends to reconnect", async () => {
      const healthy = await Promise.all([a, b].map(async (s) => (await s.get("/health")).body));
      return healthy.every((h) => (h as { status: string }).status === "ok") ? true : undefined;
    });
    const served = await a.predict("shop", { input: [4, 5] });
    assert.deepEqual((served.body as { output: unknown }).output, 9);

    // A frontend that never saw the configuration reads it from Redis: it was written back.
    fresh = await Server.start(["--redis", redis.url, "--manage-replicas", "false"]);
    const restored = await waitFor("Redis to hold the configuration again", async () => {
      const r = await fresh!.admin("get_all_applications", { verbose: false });
      return (r.body as string[]).length === 2 ? r.body : undefined;
    });
    assert.deepEqual((restored as string[]).sort(), ["from_b", "shop"]);
    for (const s of [a, b]) {
      const r = await s.admin("get_all_applications", { verbose: false });
      assert.deepEqual((r.body as string[]).sort(), ["from_b", "shop"]);
    }
    // And writes go on: one through B after the restart is seen by A.
    assert.equal((await b.admin("add_app", app("after"))).status, 200);
    await waitFor("frontend A to see the write made after the restart", async () => {
      const r = await a.admin("get_all_applications", { verbose: false });
      return (r.body as string[]).includes("after") ? true : undefined;
    });
  } finally {
    await container.kill();
    await Promise.all([a.stop(), b.stop(), fresh?.stop()]);
    await redis.stop();
  }
});
