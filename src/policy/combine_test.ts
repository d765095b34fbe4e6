import assert from "node:assert/strict";
import { embedJson } from "../api/query/answers.ts";
import { CompletionStatus } from "../core/core.ts";
import { drawnAnswer, ensembleAnswer, memberResult, type MemberStatus } from "./combine.ts";

type Result = [MemberStatus, string];

interface AllVector {
  name: string;
  combine: "vote" | "mean";
  min_confidence: number;
  default_output: string;
  members: string[];
  weights: number[];
  results: Result[];
  answer: string;
}

interface OneVector {
  name: string;
  member: string;
  default_output: string;
  result: Result;
  answer: string;
}

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/vectors/selection.json", import.meta.url)),
) as { all: AllVector[]; one: OneVector[] };

const result = ([status, payload]: Result) => ({ status, payload });

for (const v of vectors.all) {
  Deno.test(v.name, () => {
    const answer = ensembleAnswer(7, v, embedJson(v.default_output), v.results.map(result));
    assert.equal(answer.json, v.answer);
    assert.equal(answer.default, JSON.parse(v.answer).default);
  });
}

for (const v of vectors.one) {
  Deno.test(v.name, () => {
    const answer = drawnAnswer(7, v.member, embedJson(v.default_output), result(v.result));
    assert.equal(answer.json, v.answer);
    assert.equal(answer.default, v.result[0] !== "ok");
  });
}

Deno.test("a failed member's explanation is its error, and an ensemble of none has no model", () => {
  const failed = drawnAnswer(7, "a:1", "0", { status: "model_error", payload: "boom" });
  assert.match(failed.json, /"default_explanation":"boom"/);
  const none = ensembleAnswer(7, { members: [], weights: [], combine: "vote", min_confidence: 0 }, "0", []);
  assert.match(none.json, /"default_explanation":"No connected models found for query"/);
});

Deno.test("core completions read as member results by their status", () => {
  assert.deepEqual(memberResult({ status: CompletionStatus.DEADLINE_MISSED, payload: "" }), {
    status: "deadline_missed",
    payload: "",
  });
  assert.deepEqual(memberResult({ status: CompletionStatus.OK, payload: "1" }), {
    status: "ok",
    payload: "1",
  });
});
