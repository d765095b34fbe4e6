/**
 * The management API (port 1338, under `/admin`): the original Clipper's endpoints with its request
 * bodies. Writes answer a plain-text confirmation and reads answer JSON, as the original did, so its
 * admin client keeps working. Every body is validated with zod; a rejection names the field and the rule.
 *
 * Owns request shapes and response shapes only: rules live in `State`, replicas in the serving core.
 */

import { Hono } from "hono";
import { z } from "zod";
import { ClipperError } from "../../errors.ts";
import { inputTypeSchema, nameSchema, versionSchema } from "../../names.ts";
import { DEFAULT_POLICY, type State, type StateData, versionLabel } from "../../state/store.ts";
import type { ReplicaSnapshot } from "../../core/core.ts";
import { readJsonObject } from "../http.ts";

export interface AdminApiDeps {
  readonly state: State;
  /** The replicas connected now (from the serving core). */
  readonly replicas: () => readonly ReplicaSnapshot[];
}

const verbose = z.object({ verbose: z.boolean().default(false) });
const modelVersion = z.object({ model_name: nameSchema, model_version: versionSchema });
const links = z.object({ app_name: nameSchema, model_names: z.array(nameSchema) });

const SCHEMAS = {
  add_app: z.object({
    name: nameSchema,
    input_type: inputTypeSchema,
    default_output: z.string(),
    latency_slo_micros: z.number().int().positive().max(2 ** 31 - 1),
  }),
  delete_app: z.object({ name: nameSchema }),
  add_model: modelVersion.extend({
    labels: z.array(versionSchema).default([]),
    input_type: inputTypeSchema,
    container_name: z.string().default(""),
    model_data_path: z.string().default(""),
    batch_size: z.number().int().refine(
      (n) => n === -1 || n >= 1,
      "expected -1 (adaptive) or a positive integer",
    )
      .default(-1),
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
  get_container: modelVersion.extend({ replica_id: z.number().int().min(0) }),
  get_state: z.object({ app_name: nameSchema, uid: z.number().int().optional() }),
} as const;

type Endpoint = keyof typeof SCHEMAS;
type Body<E extends Endpoint> = z.infer<(typeof SCHEMAS)[E]>;
type Handlers = { [E in Endpoint]: (body: Body<E>) => Promise<string | unknown> };

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value = body;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}

/** Validates `body`, turning the first zod issue into an `invalid_request` naming the field. */
function parse<E extends Endpoint>(endpoint: E, body: unknown): Body<E> {
  const result = SCHEMAS[endpoint].safeParse(body);
  if (result.success) return result.data as Body<E>;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join(".") || "body";
  const got = valueAt(body, issue.path);
  const seen = got === undefined ? "it is missing" : `got ${JSON.stringify(got)}`;
  throw new ClipperError("invalid_request", `Invalid "${field}" for ${endpoint}: ${issue.message}; ${seen}`);
}

function appView(data: StateData, name: string) {
  const app = data.apps[name]!;
  return {
    name,
    input_type: app.input_type,
    default_output: app.default_output,
    latency_slo_micros: app.latency_slo_micros,
    policy: app.policy,
    linked_models: data.links[name] ?? [],
  };
}

function modelView(data: StateData, label: string) {
  const v = data.versions[label]!;
  return { ...v, is_current_version: data.current_versions[v.model_name] === v.model_version };
}

function containerView(r: ReplicaSnapshot) {
  return { model_id: versionLabel(r.model_name, r.model_version), ...r };
}

export function createAdminApi({ state, replicas }: AdminApiDeps): Hono {
  const handlers: Handlers = {
    add_app: async (b) => {
      await state.addApp({ ...b, policy: DEFAULT_POLICY });
      return `Added application "${b.name}"`;
    },
    delete_app: async (b) => {
      await state.deleteApp(b.name);
      return `Deleted application "${b.name}"`;
    },
    add_model: async (b) => {
      await state.addModelVersion(b);
      return `Added model "${versionLabel(b.model_name, b.model_version)}" with input type "${b.input_type}"`;
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
    get_linked_models: async (b) => {
      const data = await state.read();
      if (!data.apps[b.app_name]) {
        throw new ClipperError(
          "app_not_found",
          `Cannot list linked models: application "${b.app_name}" does not exist`,
        );
      }
      return data.links[b.app_name] ?? [];
    },
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
        b.verbose
          ? list.map(containerView)
          : list.map((r) => `${versionLabel(r.model_name, r.model_version)}:${r.model_replica_id}`),
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
      const data = await state.read();
      const app = data.apps[b.app_name];
      if (!app) {
        throw new ClipperError(
          "app_not_found",
          `Cannot read policy state: application "${b.app_name}" does not exist`,
        );
      }
      // The default policy learns nothing from feedback, so it has no state to show.
      return { app_name: b.app_name, policy: app.policy, state: {} };
    },
  };

  const app = new Hono();
  app.get("/ping", (c) => c.text("PONG"));
  for (const endpoint of Object.keys(SCHEMAS) as Endpoint[]) {
    app.post(`/${endpoint}`, async (c) => {
      const body = parse(endpoint, await readJsonObject(c));
      const result = await (handlers[endpoint] as (b: unknown) => Promise<unknown>)(body);
      return typeof result === "string" ? c.text(result) : c.json(result);
    });
  }
  return app;
}
