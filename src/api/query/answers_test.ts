import assert from "node:assert/strict";
import { CompletionStatus } from "../../core/core.ts";
import { embedOutput, EXPLANATION_NO_MODEL, EXPLANATION_SLO_MISSED, toAnswer } from "./answers.ts";

const done = (status: number, payload: string) => ({
  query_id: 7,
  status,
  payload,
  model_latency_micros: 1,
  batch_size: 1,
  cached: false,
});

Deno.test("outputs that parse as JSON are embedded as JSON, others as strings", () => {
  assert.deepEqual(embedOutput('{"a": [1]}'), { a: [1] });
  assert.equal(embedOutput("4.5"), 4.5);
  assert.equal(embedOutput("cat"), "cat");
  assert.equal(embedOutput("{broken"), "{broken");
  assert.equal(embedOutput(""), "");
});

Deno.test("a model answer is not a default", () => {
  assert.deepEqual(toAnswer(done(CompletionStatus.OK, "1"), "0"), { query_id: 7, output: 1, default: false });
});

Deno.test("defaults carry the original explanations", () => {
  assert.deepEqual(toAnswer(done(CompletionStatus.DEADLINE_MISSED, ""), "-1"), {
    query_id: 7,
    output: -1,
    default: true,
    default_explanation: EXPLANATION_SLO_MISSED,
  });
  assert.equal(
    toAnswer(done(CompletionStatus.NO_CONNECTED_MODEL, ""), "x").default_explanation,
    EXPLANATION_NO_MODEL,
  );
  assert.equal(toAnswer(done(CompletionStatus.MODEL_ERROR, "boom"), "x").default_explanation, "boom");
});
