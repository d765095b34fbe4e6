import assert from "node:assert/strict";
import { draw, seededRng } from "./rng.ts";

Deno.test("a seeded generator replays the same numbers in [0, 1)", () => {
  const a = seededRng(42);
  const b = seededRng(42);
  const xs = Array.from({ length: 1000 }, a);
  assert.deepEqual(xs, Array.from({ length: 1000 }, b));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, seededRng(43)));
});

Deno.test("draws follow the probabilities and never pick a zero one", () => {
  const rng = seededRng(1);
  const counts = [0, 0, 0];
  for (let i = 0; i < 10000; i++) counts[draw([0.2, 0, 0.8], rng)]! += 1;
  assert.equal(counts[1], 0);
  assert.ok(Math.abs(counts[0]! / 10000 - 0.2) < 0.02, `${counts}`);
});

Deno.test("a sum rounded below the draw goes to the last drawable model", () => {
  assert.equal(draw([0.5, 0.49999, 0], () => 0.999995), 1);
  assert.equal(draw([], () => 0.5), -1);
});
