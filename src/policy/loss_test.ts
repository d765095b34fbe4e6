import assert from "node:assert/strict";
import { checkLabel, loss } from "./loss.ts";

const ZERO_ONE = { loss: "zero_one", loss_scale: 1 } as const;
const SQUARED = { loss: "squared", loss_scale: 2 } as const;

Deno.test("zero_one compares numbers as numbers: an output of 1.0 is right for the label 1", () => {
  assert.equal(loss(ZERO_ONE, "1.0", 1), 0);
  assert.equal(loss(ZERO_ONE, " 1 ", "1.00"), 0);
  assert.equal(loss(ZERO_ONE, "1e0", 1), 0);
  assert.equal(loss(ZERO_ONE, "2", 1), 1);
});

Deno.test("zero_one compares other outputs as trimmed strings, a JSON string by its value", () => {
  assert.equal(loss(ZERO_ONE, "cat", "cat"), 0);
  assert.equal(loss(ZERO_ONE, '"cat"', " cat "), 0);
  assert.equal(loss(ZERO_ONE, '"1"', 1), 0);
  assert.equal(loss(ZERO_ONE, "cat", "dog"), 1);
  assert.equal(loss(ZERO_ONE, "Cat", "cat"), 1);
  assert.equal(loss(ZERO_ONE, "cat", 1), 1);
  assert.equal(loss(ZERO_ONE, '"unterminated', '"unterminated'), 0);
});

Deno.test("squared is the scaled square error, capped at 1", () => {
  assert.equal(loss(SQUARED, "3", 2), 0.25);
  assert.equal(loss(SQUARED, "2.0", 2), 0);
  assert.equal(loss(SQUARED, "10", 2), 1);
  assert.equal(loss({ loss: "squared", loss_scale: 1 }, "0.5", 0), 0.25);
});

Deno.test("squared scores an output that is not a number as the maximal loss", () => {
  assert.equal(loss(SQUARED, "cat", 2), 1);
  assert.equal(loss(SQUARED, "[2]", 2), 1);
  assert.equal(loss(SQUARED, "", 0), 1);
});

Deno.test("labels a loss cannot score are refused, saying which kind it needs", () => {
  assert.equal(checkLabel(SQUARED, 1.5), undefined);
  assert.equal(
    checkLabel(SQUARED, "cat"),
    'Invalid "label": expected a finite number for the squared loss, got "cat"',
  );
  assert.equal(checkLabel(ZERO_ONE, "cat"), undefined);
  assert.equal(checkLabel(ZERO_ONE, 3), undefined);
  assert.equal(
    checkLabel(ZERO_ONE, true),
    'Invalid "label": expected a number or a string for the zero_one loss, got true',
  );
  assert.equal(
    checkLabel(ZERO_ONE, undefined),
    'Invalid "label": expected a number or a string for the zero_one loss, got nothing',
  );
});
