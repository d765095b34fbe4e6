/** The original Clipper's default policy: the first linked model answers; feedback is only monitored. */

import type { PolicyParams } from "./params.ts";
import type { Policy } from "./policy.ts";
import { definePolicy, oneHot } from "./state.ts";

export function defaultPolicy(params: PolicyParams["default"]): Policy {
  return definePolicy({
    name: "default",
    mode: "one",
    params,
    snapshot: (_state, models) => oneHot(models.length, 0),
  });
}
