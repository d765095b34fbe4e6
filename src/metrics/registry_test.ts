import assert from "node:assert/strict";
import { Metrics } from "./registry.ts";

Deno.test("metrics of deleted applications are dropped and the others kept", () => {
  const m = new Metrics();
  m.app("shop").requests += 2;
  m.app("gone").requests += 1;
  m.retainApps(new Set(["shop"]));
  assert.deepEqual(Object.keys(m.report().apps), ["shop"]);
  assert.equal((m.report().apps.shop as { requests: number }).requests, 2);
});
