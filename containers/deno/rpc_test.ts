import assert from "node:assert/strict";
import {
  decodeFrontendMessage,
  encodeBatchError,
  encodeFrontendHeartbeat,
  encodeHeartbeat,
  encodeLeaving,
  encodeNewContainer,
  encodePredictionRequest,
  encodeResponse,
  ProtocolError,
} from "./rpc.ts";

const bytes = (...values: number[]) => new Uint8Array(values);
const u32 = (v: number) => bytes(v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24);
const u64 = (v: number) => bytes(...u32(v), 0, 0, 0, 0);
const text = (s: string) => new TextEncoder().encode(s);

Deno.test("container messages have the original byte layouts and our two extensions", () => {
  assert.deepEqual(encodeHeartbeat(), [bytes(), u32(2)]);
  assert.deepEqual(encodeNewContainer("m", "1", "doubles"), [
    bytes(),
    u32(0),
    text("m"),
    text("1"),
    text("3"),
    u32(3),
  ]);
  assert.deepEqual(encodeNewContainer("m", "1", "doubles", 258).slice(-2), [u32(3), u32(258)]);
  const id = u32(7);
  assert.deepEqual(encodeResponse(id, ["a", "bc"]), [
    bytes(),
    u32(1),
    id,
    u64(24),
    bytes(...u64(2), ...u64(1), ...u64(2)),
    text("a"),
    text("bc"),
  ]);
  assert.deepEqual(encodeBatchError(id, "boom"), [bytes(), u32(3), id, text("boom")]);
  assert.deepEqual(encodeLeaving(), [bytes(), u32(4)]);
});

Deno.test("a prediction request decodes into typed inputs of its input type", () => {
  const doubles = new Uint8Array(new Float64Array([1.5, 2]).buffer);
  const message = decodeFrontendMessage(encodePredictionRequest(9, "doubles", [doubles, new Uint8Array(0)]));
  assert.equal(message.kind, "predict");
  if (message.kind !== "predict") return;
  assert.deepEqual(message.msg_id, u32(9));
  assert.deepEqual([...message.inputs[0] as Float64Array], [1.5, 2]);
  assert.equal((message.inputs[1] as Float64Array).length, 0);
  const ints = decodeFrontendMessage(
    encodePredictionRequest(1, "ints", [new Uint8Array(new Int32Array([-2]).buffer)]),
  );
  assert.deepEqual(ints.kind === "predict" && [...ints.inputs[0] as Int32Array], [-2]);
  const strings = decodeFrontendMessage(encodePredictionRequest(1, "strings", [text("héllo")]));
  assert.equal(strings.kind === "predict" && strings.inputs[0], "héllo");
});

Deno.test("heartbeats say whether the frontend asks for metadata", () => {
  assert.deepEqual(decodeFrontendMessage(encodeFrontendHeartbeat(true)), {
    kind: "heartbeat",
    request_metadata: true,
  });
  assert.deepEqual(decodeFrontendMessage(encodeFrontendHeartbeat(false)), {
    kind: "heartbeat",
    request_metadata: false,
  });
});

Deno.test("malformed frames are protocol errors that keep the message id when it was readable", () => {
  const request = encodePredictionRequest(5, "doubles", [bytes(1, 2, 3)]);
  assert.throws(() => decodeFrontendMessage(request), (e: unknown) => {
    return e instanceof ProtocolError && /not a whole number of doubles/.test(e.message) &&
      e.msg_id !== undefined && e.msg_id[0] === 5;
  });
  const wrongVersion = encodeFrontendHeartbeat(true);
  wrongVersion[1] = u32(2);
  assert.throws(() => decodeFrontendMessage(wrongVersion), /RPC version 2 is not supported/);
  assert.throws(() => decodeFrontendMessage([bytes(1)]), /empty delimiter/);
  assert.throws(() => decodeFrontendMessage([bytes()]), /ends before frame "rpc version"/);
  const missing = encodePredictionRequest(5, "strings", [text("a"), text("b")]).slice(0, -1);
  assert.throws(() => decodeFrontendMessage(missing), /announces 2 inputs with 2 sizes but 1 frames follow/);
  const badText = encodePredictionRequest(5, "strings", [bytes(0xff)]);
  assert.throws(() => decodeFrontendMessage(badText), /not UTF-8/);
});
