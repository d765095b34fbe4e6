import assert from "node:assert/strict";
import { ClipperError } from "../../errors.ts";
import type { CoreInputType } from "../../core/core.ts";
import { InputBatch } from "../../core/input_batch.ts";
import { encodeInputs } from "./inputs.ts";

/** Encodes `body` and returns each input's bytes (copied out of the reused batch). */
function encoded(body: Record<string, unknown>, type: CoreInputType): Uint8Array[] {
  const batch = new InputBatch();
  encodeInputs(body, type, batch);
  return Array.from(
    { length: batch.count },
    (_, i) => batch.bytes.slice(batch.offsets[i], batch.offsets[i + 1]),
  );
}

function rejects(body: Record<string, unknown>, type: CoreInputType, fragment: string) {
  assert.throws(
    () => encodeInputs(body, type, new InputBatch()),
    (err: unknown) =>
      err instanceof ClipperError && err.code === "invalid_request" && err.message.includes(fragment),
  );
}

Deno.test("each input type is encoded in its wire format", () => {
  assert.deepEqual([...encoded({ input: [1, -2] }, "ints")[0]!], [1, 0, 0, 0, 254, 255, 255, 255]);
  assert.deepEqual(new Float32Array(encoded({ input: [1.5] }, "floats")[0]!.buffer)[0], 1.5);
  assert.deepEqual(new Float64Array(encoded({ input: [0.1] }, "doubles")[0]!.buffer)[0], 0.1);
  assert.deepEqual([...encoded({ input: "AQID" }, "bytes")[0]!], [1, 2, 3]);
  assert.deepEqual(new TextDecoder().decode(encoded({ input: "héllo" }, "strings")[0]!), "héllo");
});

Deno.test("integers are accepted for float and double apps", () => {
  assert.equal(new Float64Array(encoded({ input: [3] }, "doubles")[0]!.buffer)[0], 3);
  assert.equal(new Float32Array(encoded({ input: [3] }, "floats")[0]!.buffer)[0], 3);
});

Deno.test("an input batch yields one encoded input per element and is marked as a batch", () => {
  const batch = new InputBatch();
  assert.equal(encodeInputs({ input_batch: [[1], [2, 3]] }, "ints", batch), true);
  assert.equal(encodeInputs({ input: [1] }, "ints", new InputBatch()), false);
  assert.deepEqual(encoded({ input_batch: [[1], [2, 3]] }, "ints").map((i) => i.length), [4, 8]);
});

Deno.test("a reused batch starts empty and grows past its initial size", () => {
  const batch = new InputBatch();
  encodeInputs({ input_batch: [[1], [2]] }, "ints", batch);
  const long = "x".repeat(100_000);
  const many = Array.from({ length: 3000 }, (_, i) => [i]);
  encodeInputs({ input_batch: [long, "é"] }, "strings", batch);
  assert.equal(batch.count, 2);
  assert.equal(batch.length, 100_002);
  assert.equal(new TextDecoder().decode(batch.bytes.subarray(batch.offsets[1], batch.offsets[2])), "é");
  encodeInputs({ input_batch: many }, "ints", batch);
  assert.equal(batch.count, 3000);
  assert.equal(new DataView(batch.bytes.buffer).getInt32(batch.offsets[2999]!, true), 2999);
});

Deno.test("malformed inputs are refused naming the field and what was expected", () => {
  rejects({}, "ints", '"input" or "input_batch"');
  rejects({ input: "x" }, "doubles", 'Invalid "input": expected an array of numbers');
  rejects({ input: [1, "2"] }, "doubles", 'Invalid "input[1]"');
  rejects({ input: [1.5] }, "ints", "32-bit integer");
  rejects({ input: [2 ** 31] }, "ints", "32-bit integer");
  rejects({ input: [1] }, "strings", "expected a string");
  rejects({ input: "not base64!" }, "bytes", "base64");
  rejects({ input_batch: [] }, "ints", "non-empty array");
  rejects({ input_batch: [[1], "x"] }, "ints", 'Invalid "input_batch[1]"');
});
