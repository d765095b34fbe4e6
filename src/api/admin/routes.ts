/**
 * The management API (port 1338, under `/admin`): the original Clipper's endpoints with its request
 * bodies. Writes answer a plain-text confirmation and reads answer JSON, as the original did, so its
 * admin client keeps working. Every body is validated with zod; a rejection names the field and the rule.
 *
 * Owns the routes and request shapes: rules live in `State`, response shapes in `views.ts`, the wording
 * of validation failures in `parse.ts`, replicas in the serving core. Rejections are `ClipperError`s that
 * `errorResponse` (src/api/http.ts, shared with the query API) turns into `{error, cause, code}`.
 */

import { Hono } from "hono";
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { ClipperError } from "../../errors.ts";
import { inputTypeSchema, labelSchema, nameSchema, versionSchema } from "../../names.ts";
import { type State, versionLabel } from "../../state/store.ts";
import { parsePolicy, type PolicySpec } from "../../policy/params.ts";
import { policyFor } from "../../policy/policy.ts";
import type { PolicyState } from "../../policy/state.ts";
import { policyName, storedPolicyName } from "../../selection/learned.ts";
import type { ManagedReplica } from "../../containers/manager.ts";
import { readLogTail } from "../../containers/log_file.ts";
import { errorResponse, readJsonObject } from "../http.ts";
import { parseBody } from "./parse.ts";
import { appView, containerId, containerView, modelView, type ReplicaInfo } from "./views.ts";

export type { ReplicaInfo } from "./views.ts";

export interface AdminApiDeps {
  readonly state: State;
  /** The replicas connected now (from the serving core). */
  readonly replicas: () => readonly ReplicaInfo[];
  /** The replica processes the container manager runs. */
  readonly managed: () => readonly ManagedReplica[];
  /** The log file of a managed replica, if there is one. */
  readonly log_path: (name: string, version: string, index: number) => string | undefined;
  /** When set, every call but `GET /ping` must send `Authorization: Bearer <admin_token>`. */
  readonly admin_token?: string;
  /** What `app`'s policy learned for `uid` (the shared state for a uid without its own). */
  readonly learned: (app: string, uid: string) => PolicyState;
  readonly max_body_bytes: number;
}

/** The most of a replica's log that `get_replica_logs` returns: its tail. */
const LOG_TAIL_BYTES = 64 * 1024;

const MAX_INT32 = 2 ** 31 - 1;
const text = z.string({ error: "expected a string" });
/** An integer in `min..max`; `rule` is the whole "expected …" shown when it is not. */
const int = (min: number, max: number, rule: string) =>
  z.number({ error: rule }).int({ error: rule }).min(min, { error: rule }).max(max, { error: rule });

// The original required `verbose`; its client always sends it, so a missing one means false.
const verbose = z.object({ verbose: z.boolean({ error: "expected true or false" }).default(false) });
const modelVersion = z.object({ model_name: nameSchema, model_version: versionSchema });
const batchSizeRule = "expected -1 (adaptive batching) or a positive integer";
const batchSize = int(-1, MAX_INT32, batchSizeRule).refine((n) => n !== 0, { error: batchSizeRule });
const batchSizing = z.enum(["aimd", "quantile"], { error: 'expected "aimd" or "quantile"' });
/** Longer than any objective worth serving: a hold that long would only ever be cut by the deadline. */
const MAX_BATCH_DELAY_MICROS = 10_000_000;
const batchDelay = int(
  0,
  MAX_BATCH_DELAY_MICROS,
  `expected an integer number of microseconds from 0 to ${MAX_BATCH_DELAY_MICROS}`,
);
const links = z.object({
  app_name: nameSchema,
  model_names: z.array(nameSchema, { error: "expected an array of model names" }),
});

// The policy's own rules (names, params' ranges) are checked by `checkedPolicy`, with its messages.
const policyFields = {
  policy: z.unknown().optional(),
  policy_params: z.unknown().optional(),
};

const SCHEMAS = {
  add_app: z.object({
    name: nameSchema,
    input_type: inputTypeSchema,
    default_output: text,
    latency_slo_micros: int(1, MAX_INT32, `expected a positive integer of at most ${MAX_INT32}`),
    ...policyFields,
  }),
  set_app_policy: z.object({ name: nameSchema, ...policyFields }),
  delete_app: z.object({ name: nameSchema }),
  add_model: modelVersion.extend({
    labels: z.array(labelSchema, { error: "expected an array of labels" }).default([]),
    input_type: inputTypeSchema,
    container_name: text.default(""),
    model_data_path: text.default(""),
    batch_size: batchSize.default(-1),
    batching: batchSizing.default("aimd"),
    batch_delay_micros: batchDelay.default(0),
    container_command: z.array(z.string().min(1)).default([]),
  }),
  set_model_batching: modelVersion.extend({
    batch_size: batchSize.optional(),
    batching: batchSizing.optional(),
    batch_delay_micros: batchDelay.optional(),
  }).refine((b) => [b.batch_size, b.batching, b.batch_delay_micros].some((v) => v !== undefined), {
    error: "expected at least one of batch_size, batching and batch_delay_micros",
  }),
  set_model_version: modelVersion,
  delete_versioned_model: modelVersion,
  add_model_links: links,
  delete_model_links: links,
  get_all_applications: verbose,
  get_application: z.object({ name: nameSchema }),
  get_linked_models: z.object({ app_name: nameSchema }),
  get_all_models: verbose,
  get_model: modelVersion,
  get_all_containers: verbose,
  get_container: modelVersion.extend({
    replica_id: int(0, MAX_INT32, "expected a non-negative integer"),
  }),
  // As in the original, `uid` is accepted and ignored: only the default user's state exists.
  get_state: z.object({
    app_name: nameSchema,
    uid: int(-MAX_INT32, MAX_INT32, "expected an integer").optional(),
  }),
  set_num_replicas: modelVersion.extend({
    num_replicas: z.number().int().min(0).max(64),
    gpus: z.array(z.string().regex(/^[0-9,]*$/, 'expected GPU ids like "0" or "0,1", or "" for CPU'))
      .default([]),
  }),
  get_model_replicas: modelVersion,
  get_replica_logs: modelVersion.extend({ replica: z.number().int().min(0) }),
} as const;

function digest(token: string): Uint8Array {
  return createHash("sha256").update(token).digest();
}

/** A policy and its params as a request gave them, checked, in the form configuration stores. */
function checkedPolicy(policy: unknown, policy_params: unknown) {
  const parsed = parsePolicy(policy, policy_params);
  if (!parsed.ok) throw new ClipperError("invalid_request", parsed.message);
  return {
    policy: storedPolicyName(parsed.policy),
    policy_params: (policy_params ?? {}) as Readonly<Record<string, unknown>>,
    spec: parsed as PolicySpec,
  };
}

type Endpoint = keyof typeof SCHEMAS;
type Body<E extends Endpoint> = z.infer<(typeof SCHEMAS)[E]>;
type Handlers = { [E in Endpoint]: (body: Body<E>) => Promise<string | unknown> };

export function createAdminApi(
  { state, replicas, managed, log_path, learned, admin_token, max_body_bytes }: AdminApiDeps,
): Hono {
  const handlers: Handlers = {
    add_app: async ({ policy, policy_params, ...b }) => {
      const checked = checkedPolicy(policy, policy_params);
      await state.addApp({ ...b, policy: checked.policy, policy_params: checked.policy_params });
      return `Added application "${b.name}"`;
    },
    set_app_policy: async (b) => {
      const checked = checkedPolicy(b.policy ?? undefined, b.policy_params);
      await state.setAppPolicy(b.name, checked.policy, checked.policy_params);
      return `Set the policy of application "${b.name}" to ${JSON.stringify(b.policy ?? "default")}`;
    },
    delete_app: async (b) => {
      await state.deleteApp(b.name);
      return `Deleted application "${b.name}"`;
    },
    add_model: async (b) => {
      await state.addModelVersion(b);
      return `Added model "${versionLabel(b.model_name, b.model_version)}" with input type "${b.input_type}"`;
    },
    set_model_batching: async ({ model_name, model_version, ...changes }) => {
      const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
      await state.setModelBatching(model_name, model_version, given);
      const label = versionLabel(model_name, model_version);
      return `Set the batching of model "${label}" to ${JSON.stringify(given)}`;
    },
    set_model_version: async (b) => {
      await state.setCurrentVersion(b.model_name, b.model_version);
      return `Set model "${b.model_name}" to version "${b.model_version}"`;
    },
    delete_versioned_model: async (b) => {
      await state.deleteModelVersion(b.model_name, b.model_version);
      return `Deleted model "${versionLabel(b.model_name, b.model_version)}"`;
    },
    add_model_links: async (b) => {
      await state.addLinks(b.app_name, b.model_names);
      return `Linked ${b.model_names.map((m) => `"${m}"`).join(", ")} to application "${b.app_name}"`;
    },
    delete_model_links: async (b) => {
      await state.deleteLinks(b.app_name, b.model_names);
      return `Unlinked ${b.model_names.map((m) => `"${m}"`).join(", ")} from application "${b.app_name}"`;
    },
    get_all_applications: async (b) => {
      const data = await state.read();
      const names = Object.keys(data.apps);
      return b.verbose ? names.map((n) => appView(data, n)) : names;
    },
    // As in the original, asking for something that does not exist answers an empty object.
    get_application: async (b) => {
      const data = await state.read();
      return data.apps[b.name] ? appView(data, b.name) : {};
    },
    get_linked_models: (b) => state.getLinks(b.app_name),
    get_all_models: async (b) => {
      const data = await state.read();
      const labels = Object.keys(data.versions);
      return b.verbose ? labels.map((l) => modelView(data, l)) : labels;
    },
    get_model: async (b) => {
      const data = await state.read();
      const label = versionLabel(b.model_name, b.model_version);
      return data.versions[label] ? modelView(data, label) : {};
    },
    get_all_containers: (b) => {
      const list = replicas();
      return Promise.resolve(
        b.verbose ? list.map(containerView) : list.map(containerId),
      );
    },
    get_container: (b) => {
      const found = replicas().find((r) =>
        r.model_name === b.model_name && r.model_version === b.model_version &&
        r.model_replica_id === b.replica_id
      );
      return Promise.resolve(found ? containerView(found) : {});
    },
    get_state: async (b) => {
      const app = await state.getApp(b.app_name);
      if (!app) {
        throw new ClipperError(
          "app_not_found",
          `Cannot read the policy state of application "${b.app_name}": it does not exist`,
        );
      }
      // As in the original: the default policy's whole state is the app's default output, sent as text.
      return app.default_output;
    },
    set_num_replicas: async (b) => {
      await state.setReplicas(b.model_name, b.model_version, { num_replicas: b.num_replicas, gpus: b.gpus });
      return `Set model "${versionLabel(b.model_name, b.model_version)}" to ${b.num_replicas} replicas`;
    },
    get_model_replicas: (b) => {
      const sameVersion = (r: { model_name: string; model_version: string }) =>
        r.model_name === b.model_name && r.model_version === b.model_version;
      // Managed replicas tell the core their number, so a process and its connection pair up by it.
      const numbers = new Set(replicas().filter(sameVersion).map((r) => r.model_replica_id));
      return Promise.resolve(
        managed().filter(sameVersion).map((r) => ({ ...r, connected: numbers.has(r.replica) })),
      );
    },
    get_replica_logs: async (b) => {
      const path = log_path(b.model_name, b.model_version, b.replica);
      const label = versionLabel(b.model_name, b.model_version);
      if (path === undefined) {
        throw new ClipperError(
          "model_not_found",
          `Cannot read logs: replica ${b.replica} of "${label}" is not managed here`,
        );
      }
      // Read only their tail, across the rotation.
      return new TextDecoder().decode(await readLogTail(path, LOG_TAIL_BYTES));
    },
  };

  const app = new Hono();
  // Also here, not only on the server that mounts this app, so it answers the same however it is mounted.
  app.onError((err, c) => errorResponse(c, err));
  app.get("/ping", (c) => c.text("PONG"));
  if (admin_token) {
    const expected = digest(admin_token);
    app.use("*", async (c, next) => {
      const sent = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      // Digests of equal length, compared in constant time: the comparison says nothing of the token.
      if (sent === undefined || !timingSafeEqual(digest(sent), expected)) {
        c.header("WWW-Authenticate", 'Bearer realm="clipper-admin"');
        throw new ClipperError(
          "unauthorized",
          sent === undefined
            ? "Admin calls need the header `Authorization: Bearer <token>` (the server's --admin-token)"
            : "The admin token sent is not the server's",
        );
      }
      await next();
    });
  }
  app.get("/get_app_policy", async (c) => {
    const { name } = parseBody(z.object({ name: nameSchema }), { name: c.req.query("name") });
    const uid = c.req.query("uid") ?? "0";
    const data = await state.read();
    const record = data.apps[name];
    if (!record) {
      throw new ClipperError(
        "app_not_found",
        `Cannot read the policy of application "${name}": it does not exist`,
      );
    }
    const spec = checkedPolicy(policyName(record.policy), record.policy_params).spec;
    const models = policyFor(spec).view(learned(name, uid), data.links[name] ?? []);
    return c.json({ policy: spec.policy, policy_params: spec.params, uid, models });
  });
  for (const endpoint of Object.keys(SCHEMAS) as Endpoint[]) {
    app.post(`/${endpoint}`, async (c) => {
      const body = parseBody(SCHEMAS[endpoint], await readJsonObject(c, max_body_bytes)) as Body<
        typeof endpoint
      >;
      const result = await (handlers[endpoint] as (b: unknown) => Promise<unknown>)(body);
      return typeof result === "string" ? c.text(result) : c.json(result);
    });
  }
  // Unknown paths (or a known path with the wrong method) under /admin, however this app is mounted.
  app.all("*", (c) => {
    throw new ClipperError("route_not_found", `No route for ${c.req.method} "${c.req.path}"`);
  });
  return app;
}
