import assert from "node:assert/strict";
import { CompletionStatus } from "../../core/core.ts";
import { answersJson, embedJson, toAnswer } from "./answers.ts";

const done = (status: number, payload: string) => ({
  query_id: 7,
  status,
  payload,
  model_latency_micros: 1,
  batch_size: 1,
  queue_micros: 0,
  cached: false,
});

interface Vector {
  name: string;
  status: "ok" | "deadline_missed" | "no_connected_model" | "model_error" | "dropped";
  payload: string;
  default_output: string;
  answer: string;
}

const STATUS = {
  ok: CompletionStatus.OK,
  deadline_missed: CompletionStatus.DEADLINE_MISSED,
  no_connected_model: CompletionStatus.NO_CONNECTED_MODEL,
  model_error: CompletionStatus.MODEL_ERROR,
  dropped: CompletionStatus.DROPPED,
};

const { vectors } = JSON.parse(
  await Deno.readTextFile(new URL("../../../tests/vectors/answers.json", import.meta.url)),
) as { vectors: Vector[] };

for (const v of vectors) {
  Deno.test(`answers as the core writes them: ${v.name}`, () => {
    const answer = toAnswer(done(STATUS[v.status], v.payload), embedJson(v.default_output));
    assert.equal(answer.json, v.answer);
    assert.equal(answer.default, v.status !== "ok");
  });
}

Deno.test("a batch answers its queries' objects in input order under batch_predictions", () => {
  const answers = [
    toAnswer(done(CompletionStatus.OK, "1"), "0"),
    toAnswer(done(CompletionStatus.OK, "x"), "0"),
  ];
  assert.equal(
    answersJson(answers, true),
    '{"batch_predictions":[{"query_id":7,"output":1,"default":false},' +
      '{"query_id":7,"output":"x","default":false}]}',
  );
  assert.equal(answersJson(answers.slice(0, 1), false), '{"query_id":7,"output":1,"default":false}');
});
