/**
 * Policy names and `policy_params`: one strict zod schema per policy, every parameter defaulted and
 * range-checked. `parsePolicy` is the only way in; a failure is a sentence the caller answers with a 400,
 * worded by the management API's validation (`src/api/admin/parse.ts`) so all such causes read alike.
 */

import { z } from "zod";
import { parseBody } from "../api/admin/parse.ts";
import { ClipperError } from "../errors.ts";

export const POLICY_NAMES = ["default", "exp3", "exp4", "epsilon_greedy", "ucb1"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** `min` to `max` (unbounded without one), `min` itself excluded when `min_open`. */
interface Range {
  readonly min: number;
  readonly max?: number;
  readonly min_open?: boolean;
  readonly integer?: boolean;
}

function describe(r: Range): string {
  const kind = r.integer ? "an integer" : "a number";
  if (r.max === undefined) return `${kind} ${r.min_open ? ">" : ">="} ${r.min}`;
  return `${kind} in ${r.min_open ? "(" : "["}${r.min}, ${r.max}]`;
}

function within(v: number, r: Range): boolean {
  return (r.min_open ? v > r.min : v >= r.min) && (r.max === undefined || v <= r.max) &&
    (!r.integer || Number.isInteger(v));
}

function ranged(range: Range) {
  const expected = `expected ${describe(range)}`;
  return z.number({ error: expected }).refine((v) => within(v, range), { error: expected });
}

const POSITIVE: Range = { min: 0, min_open: true };
const UNIT: Range = { min: 0, max: 1 };

/** Every policy takes these: how feedback is scored and how many recent losses monitoring averages. */
const SHARED = {
  loss: z.enum(["zero_one", "squared"], { error: 'expected "zero_one" or "squared"' }).default("zero_one"),
  /** Squared loss is `min(1, ((output - label) / loss_scale)^2)`: the error that is wholly wrong. */
  loss_scale: ranged(POSITIVE).default(1),
  window: ranged({ min: 1, max: 100_000, integer: true }).default(100),
};

/** Unknown keys are refused, naming the ones the policy takes. */
function strict<S extends z.ZodRawShape>(shape: S) {
  const all = { ...SHARED, ...shape };
  const known = Object.keys(all).join(", ");
  return z.strictObject(all, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `expected only ${known} (unknown: ${issue.keys.map((k) => JSON.stringify(k)).join(", ")})`
        : "expected an object",
  });
}

const SCHEMAS = {
  default: strict({}),
  exp3: strict({
    gamma: ranged({ min: 0, max: 1, min_open: true }).default(0.1),
    /**
     * "auto" is γ/K for K linked models, Exp3's own rate: since every probability is at least γ/K, one
     * feedback moves a log-weight by at most 1, whatever K becomes as links change.
     */
    eta: z.union([z.literal("auto"), ranged(POSITIVE)], { error: 'expected "auto" or a number > 0' })
      .default("auto"),
  }),
  exp4: strict({
    eta: ranged(POSITIVE).default(0.5),
    combine: z.enum(["vote", "mean"], { error: 'expected "vote" or "mean"' }).default("vote"),
    /** 0 is off: any agreement answers. */
    min_confidence: ranged(UNIT).default(0),
  }),
  epsilon_greedy: strict({ epsilon: ranged(UNIT).default(0.1) }),
  ucb1: strict({ c: ranged({ min: 0 }).default(Math.SQRT2) }),
};

export type PolicyParams = { readonly [N in PolicyName]: Readonly<z.output<(typeof SCHEMAS)[N]>> };
export type SharedParams = PolicyParams["default"];
export type LossParams = Pick<SharedParams, "loss" | "loss_scale">;

/** A policy and its fully defaulted, frozen params. */
export type PolicySpec = {
  readonly [N in PolicyName]: { readonly policy: N; readonly params: PolicyParams[N] };
}[
  PolicyName
];

export type PolicyParse = ({ readonly ok: true } & PolicySpec) | {
  readonly ok: false;
  readonly message: string;
};

function isPolicyName(name: unknown): name is PolicyName {
  return (POLICY_NAMES as readonly unknown[]).includes(name);
}

/**
 * Validates a policy name and its `policy_params` as a request carries them. An absent name is "default";
 * absent (or null) params take every default.
 */
export function parsePolicy(name: unknown, params: unknown): PolicyParse {
  const policy = name ?? "default";
  if (!isPolicyName(policy)) {
    return {
      ok: false,
      message: `Unknown policy ${JSON.stringify(policy)}; expected one of ${POLICY_NAMES.join(", ")}`,
    };
  }
  try {
    const body = parseBody(z.object({ policy_params: SCHEMAS[policy] }), { policy_params: params ?? {} });
    return { ok: true, policy, params: Object.freeze(body.policy_params) } as PolicyParse;
  } catch (err) {
    if (err instanceof ClipperError) return { ok: false, message: err.message };
    throw err;
  }
}
