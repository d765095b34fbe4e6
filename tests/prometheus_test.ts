/**
 * The Prometheus exposition, end to end: a real server and container serve queries, and the text from
 * `GET /metrics/prometheus` (and from `/metrics` when `Accept` asks for it) is read by Prometheus's own
 * Python text parser (prometheus_client), whose counters must have moved by exactly the queries served.
 */
import assert from "node:assert/strict";
import { Container, type Server, waitFor, withServer } from "./harness.ts";

const SUM = "clipper_container.examples.sum";
const python = Deno.env.get("CLIPPER_PYTHON") ?? new URL("../.venv/bin/python", import.meta.url).pathname;

const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = text_string_to_metric_families(sys.stdin.read())
print(json.dumps([[s.name, s.labels, s.value] for f in families for s in f.samples]))
`;

type Sample = [name: string, labels: Record<string, string>, value: number];

/** The samples of `text` as prometheus_client parses it; throws when it does not parse. */
async function parse(text: string): Promise<Sample[]> {
  const child = new Deno.Command(python, {
    args: ["-c", PARSE],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assert.equal(
    code,
    0,
    `prometheus_client could not parse the exposition: ${new TextDecoder().decode(stderr)}`,
  );
  return JSON.parse(new TextDecoder().decode(stdout));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(([n, l]) =>
    n === name && Object.keys(l).length === Object.keys(labels).length &&
    Object.entries(labels).every(([k, v]) => l[k] === v)
  );
  assert.equal(found.length, 1, `one sample ${name} ${JSON.stringify(labels)}`);
  return found[0]![2];
}

async function scrape(server: Server, path: string, accept?: string): Promise<Sample[]> {
  const res = await fetch(`${server.query_url}${path}`, { headers: accept ? { accept } : {} });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parse(text);
}

Deno.test("the Prometheus text parses and its counters move by exactly the queries served", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    containers.push(Container.start(server, SUM, "sum", "doubles"));
    await server.waitForReplicas("sum");
    const before = await scrape(server, "/metrics/prometheus");
    const app = { app: "shop" };
    const model = { model: "sum", version: "1" };
    assert.equal(value(before, "clipper_replicas_connected", model), 1);

    const queries = 5;
    for (let i = 0; i < queries; i++) {
      const r = await server.predict("shop", { input: [i, 0.5] });
      assert.equal(r.status, 200, r.text);
    }
    const repeated = await server.predict("shop", { input: [0, 0.5] });
    assert.equal(repeated.status, 200, repeated.text);

    // Prometheus's own scraper's Accept header.
    const accept =
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    const moved = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
      value(samples, name, labels) - (before.some(([n]) => n === name) ? value(before, name, labels) : 0);
    // The core's own counters are as of its last snapshot (at most 250 ms old): scrape until they show one
    // batch per query (sent one by one, the repeated one answered by the cache), then check the rest.
    const after = await waitFor("the core's snapshot to count the queries", async () => {
      const samples = await scrape(server, "/metrics", accept);
      return moved(samples, "clipper_core_batches_sent_total") === queries ? samples : undefined;
    });
    assert.equal(moved(after, "clipper_app_requests_total", app), queries + 1);
    assert.equal(moved(after, "clipper_app_predictions_total", app), queries + 1);
    assert.equal(moved(after, "clipper_app_default_outputs_total", app), 0);
    assert.equal(moved(after, "clipper_app_request_duration_seconds_count", app), queries + 1);
    assert.equal(
      moved(after, "clipper_app_request_duration_seconds_bucket", { ...app, le: "+Inf" }),
      queries + 1,
    );
    assert.ok(value(after, "clipper_app_request_duration_seconds_sum", app) > 0);
    assert.equal(
      moved(after, "clipper_model_predictions_total", model),
      queries,
      "the repeated query was not computed",
    );
    assert.equal(moved(after, "clipper_model_cache_hits_total", model), 1);
    assert.equal(moved(after, "clipper_model_round_trip_seconds_count", model), queries);
    assert.equal(moved(after, "clipper_model_batch_size_count", model), queries);
    assert.equal(moved(after, "clipper_model_queue_seconds_count", model), queries);
    assert.equal(moved(after, "clipper_cache_hits_total"), 1);
    assert.equal(moved(after, "clipper_cache_misses_total"), queries);
    assert.equal(value(after, "clipper_core_malformed_messages_total"), 0);
    assert.equal(value(after, "clipper_core_refused_containers_total"), 0);
    assert.equal(value(after, "clipper_replicas_connected", model), 1);
  });
});

Deno.test("/metrics stays JSON unless Accept asks for Prometheus text", async () => {
  await withServer(async (server) => {
    for (const accept of [undefined, "*/*", "application/json", "text/html,*/*;q=0.8", "text/plain;q=0"]) {
      const res = await fetch(`${server.query_url}/metrics`, { headers: accept ? { accept } : {} });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/, `Accept: ${accept}`);
      assert.ok("apps" in await res.json());
    }
    await scrape(server, "/metrics", "text/plain; version=0.0.4");
  });
});
