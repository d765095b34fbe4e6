import assert from "node:assert/strict";
import { ClipperError } from "../../errors.ts";
import { encodeInputs } from "./inputs.ts";

function rejects(body: Record<string, unknown>, type: Parameters<typeof encodeInputs>[1], fragment: string) {
  assert.throws(
    () => encodeInputs(body, type),
    (err: unknown) =>
      err instanceof ClipperError && err.code === "invalid_request" && err.message.includes(fragment),
  );
}

Deno.test("each input type is encoded in its wire format", () => {
  assert.deepEqual([...encodeInputs({ input: [1, -2] }, "ints").inputs[0]!], [
    1,
    0,
    0,
    0,
    254,
    255,
    255,
    255,
  ]);
  assert.deepEqual(new Float32Array(encodeInputs({ input: [1.5] }, "floats").inputs[0]!.buffer)[0], 1.5);
  assert.deepEqual(new Float64Array(encodeInputs({ input: [0.1] }, "doubles").inputs[0]!.buffer)[0], 0.1);
  assert.deepEqual([...encodeInputs({ input: "AQID" }, "bytes").inputs[0]!], [1, 2, 3]);
  assert.deepEqual(new TextDecoder().decode(encodeInputs({ input: "héllo" }, "strings").inputs[0]!), "héllo");
});

Deno.test("integers are accepted for float and double apps", () => {
  assert.equal(new Float64Array(encodeInputs({ input: [3] }, "doubles").inputs[0]!.buffer)[0], 3);
  assert.equal(new Float32Array(encodeInputs({ input: [3] }, "floats").inputs[0]!.buffer)[0], 3);
});

Deno.test("an input batch yields one encoded input per element and is marked as a batch", () => {
  const { inputs, batch } = encodeInputs({ input_batch: [[1], [2, 3]] }, "ints");
  assert.equal(batch, true);
  assert.deepEqual(inputs.map((i) => i.length), [4, 8]);
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
