/**
 * The fault suite on a short run (2 s of load per scenario): each scenario runs under load and meets the
 * targets it meets today, and no process it started survives. Counts, not timings, are asserted.
 */
import assert from "node:assert/strict";
import { survivors } from "../lib/processes.ts";
import { runFaults } from "./main.ts";
import type { Row } from "./lib.ts";
import { formatTable, misses } from "./table.ts";

const DURATION_MILLIS = 2000;

async function one(name: string): Promise<Row> {
  const [r] = await runFaults([name], DURATION_MILLIS);
  assert.deepEqual(await survivors(), [], "every process the scenario started is gone");
  return r!;
}

function meetsTargets(r: Row) {
  assert.deepEqual(misses(r), [], formatTable([r]));
}

function servedUnderLoad(r: Row) {
  assert.ok(r.queries_sent > 0 && r.answered_by_model > 0, formatTable([r]));
}

Deno.test("a frontend killed during add_app writes keeps every acknowledged write after its restart", async () => {
  const r = await one("frontend_kill");
  assert.ok(r.writes_acknowledged > 0, formatTable([r]));
  meetsTargets(r);
});

Deno.test("a replica killed under load loses no query, answers none twice and gives defaults to none but its own batch", async () => {
  const r = await one("replica_kill");
  servedUnderLoad(r);
  meetsTargets(r);
});

Deno.test("a Redis restarted empty under load loses no query and no acknowledged write", async () => {
  const r = await one("redis_restart");
  servedUnderLoad(r);
  assert.ok(r.writes_acknowledged > 0, formatTable([r]));
  assert.equal(r.answered_twice, 0, formatTable([r]));
  meetsTargets(r);
});

Deno.test("a container sending garbage costs no query its answer", async () => {
  const r = await one("garbage_container");
  servedUnderLoad(r);
  meetsTargets(r);
});

Deno.test("a container stalling mid-frame costs no query its answer", async () => {
  const r = await one("stalling_container");
  servedUnderLoad(r);
  meetsTargets(r);
});

Deno.test("a container answering the wrong number of outputs gets its batch the default, no query lost", async () => {
  const r = await one("wrong_outputs");
  servedUnderLoad(r);
  assert.ok(r.answered_by_default > 0, `the breaker got a "bad" input: ${formatTable([r])}`);
  meetsTargets(r);
});

Deno.test("a slowloris attack does not cost normal queries their answers", async () => {
  const r = await one("slowloris");
  servedUnderLoad(r);
  meetsTargets(r);
});

Deno.test("clients hanging up mid-body or before the answer do not cost others their answers", async () => {
  const r = await one("client_disconnect");
  servedUnderLoad(r);
  meetsTargets(r);
});
