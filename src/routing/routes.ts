/**
 * The routing table: the in-memory view of configuration that the query path reads on every request
 * (apps, their linked models, current versions, and each model version's id in the serving core).
 *
 * Owns keeping the serving core in step with configuration: `apply` registers new or changed model
 * versions, removes deleted ones, and publishes each app's route to the core's native query port (which
 * answers predict requests without this module, so the target must not depend on the request; a policy
 * that chose per request would have to publish no target and leave such apps to the TypeScript path). Must not read the state store itself (`sync.ts`
 * feeds it), so lookups stay synchronous and free of I/O.
 */

import { ClipperError } from "../errors.ts";
import { type CoreInputType, INPUT_TYPE_IDS, type NativeApp, type ServingCore } from "../core/core.ts";
import { firstLinkedModel, type SelectionPolicy } from "../policy/policy.ts";

export interface AppRoute {
  readonly name: string;
  readonly input_type: CoreInputType;
  readonly default_output: string;
  readonly latency_slo_micros: number;
  readonly linked_models: readonly string[];
}

export interface VersionRoute {
  readonly model_name: string;
  readonly model_version: string;
  readonly input_type: CoreInputType;
  readonly batch_size: number;
}

/** Everything the routing table is built from. */
export interface RoutingState {
  readonly apps: readonly AppRoute[];
  readonly versions: readonly VersionRoute[];
  /** Model name → its current version. */
  readonly current_versions: ReadonlyMap<string, string>;
}

/** Where one query goes: a model version registered in the core. */
export interface Target {
  readonly core_model: number;
  /** `name:version`. */
  readonly label: string;
}

/** When a model version is linked to no app, its adaptive batching aims at this objective. */
const UNLINKED_OBJECTIVE_MICROS = 100_000;

type CoreModels = Pick<ServingCore, "configureModel" | "removeModel" | "publishApps">;

interface Registered {
  readonly id: number;
  readonly fingerprint: string;
}

export class Routes {
  readonly #core: CoreModels;
  readonly #policy: SelectionPolicy;
  #apps = new Map<string, AppRoute>();
  #current = new Map<string, string>();
  readonly #registered = new Map<string, Registered>();

  constructor(core: CoreModels, policy: SelectionPolicy = firstLinkedModel) {
    this.#core = core;
    this.#policy = policy;
  }

  app(name: string): AppRoute | undefined {
    return this.#apps.get(name);
  }

  /**
   * The model version that answers `app`'s queries: the policy's model at `version` when pinned, else at
   * its current version. Undefined when no model is linked or it has no version; throws
   * `version_not_found` for a pinned version that does not exist.
   */
  target(app: AppRoute, version?: string): Target | undefined {
    const model = this.#policy.select(app.linked_models);
    if (model === undefined) return undefined;
    const chosen = version ?? this.#current.get(model);
    if (chosen === undefined) return undefined;
    const label = `${model}:${chosen}`;
    const registered = this.#registered.get(label);
    if (registered === undefined) {
      throw new ClipperError(
        "version_not_found",
        `Cannot predict with version "${chosen}" of model "${model}": no such version`,
      );
    }
    return { core_model: registered.id, label };
  }

  /** Replaces the table with `state`, registering and removing core models as needed. */
  apply(state: RoutingState): void {
    const objectives = new Map<string, number>();
    for (const app of state.apps) {
      for (const model of app.linked_models) {
        objectives.set(model, Math.min(objectives.get(model) ?? Infinity, app.latency_slo_micros));
      }
    }
    const seen = new Set<string>();
    for (const v of state.versions) {
      const label = `${v.model_name}:${v.model_version}`;
      seen.add(label);
      const objective = objectives.get(v.model_name) ?? UNLINKED_OBJECTIVE_MICROS;
      const fingerprint = `${v.input_type}/${v.batch_size}/${objective}`;
      if (this.#registered.get(label)?.fingerprint === fingerprint) continue;
      const id = this.#core.configureModel(
        v.model_name,
        v.model_version,
        v.input_type,
        v.batch_size,
        objective,
      );
      this.#registered.set(label, { id, fingerprint });
    }
    for (const [label, { id }] of this.#registered) {
      if (!seen.has(label)) {
        this.#core.removeModel(id);
        this.#registered.delete(label);
      }
    }
    this.#apps = new Map(state.apps.map((a) => [a.name, a]));
    this.#current = new Map(state.current_versions);
    this.#core.publishApps(state.apps.flatMap((app) => this.#nativeApp(app)));
  }

  /** The app as the native query port answers it; none when its route cannot be resolved now. */
  #nativeApp(app: AppRoute): NativeApp[] {
    let target: Target | undefined;
    try {
      target = this.target(app);
    } catch {
      return [];
    }
    return [{
      name: app.name,
      input_type: INPUT_TYPE_IDS[app.input_type],
      default_output: app.default_output,
      latency_slo_micros: app.latency_slo_micros,
      target: target ? { model: target.core_model, label: target.label } : null,
    }];
  }
}
