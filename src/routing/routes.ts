/**
 * The routing table: the in-memory view of configuration that the query path reads on every request
 * (apps, their linked models, current versions, and each model version's id in the serving core).
 *
 * Owns keeping the serving core in step with configuration: `apply` registers new or changed model
 * versions, removes deleted ones, and publishes each app's route to the core's native query port, which
 * answers predict requests without this module. An app with the default policy publishes one target (the
 * first linked model's current version); an app with another policy publishes its selection: its members
 * (the linked models that have a current version), the policy's snapshot for the shared user and for each
 * user with a state of its own, from which the core draws one member per query or asks them all and
 * combines. After feedback, `learn` hands the core one user's new numbers. Must not read the state
 * store itself (`sync.ts` feeds it), so lookups stay synchronous and free of I/O.
 */

import { ClipperError } from "../errors.ts";
import {
  type CoreInputType,
  INPUT_TYPE_IDS,
  type ModelBatching,
  type NativeApp,
  type ServingCore,
} from "../core/core.ts";
import type { AppPolicyRecord, LearnedStates } from "../selection/learned.ts";
import { draw, type Rng } from "../policy/rng.ts";
import { parsePolicy, type PolicySpec } from "../policy/params.ts";
import { SHARED_UID } from "../policy/state.ts";
import type { ModelView, PolicyMode } from "../policy/policy.ts";

export interface AppRoute extends AppPolicyRecord {
  readonly input_type: CoreInputType;
  readonly default_output: string;
  readonly latency_slo_micros: number;
  readonly linked_models: readonly string[];
}

export interface VersionRoute extends ModelBatching {
  readonly model_name: string;
  readonly model_version: string;
  readonly input_type: CoreInputType;
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

/** A linked model that has a current version: a member of its app's selection. */
export interface Member extends Target {
  readonly model_name: string;
}

type CoreModels = Pick<ServingCore, "configureModel" | "removeModel" | "publishApps" | "setUserWeights">;

interface Registered {
  readonly id: number;
  readonly fingerprint: string;
}

export class Routes {
  readonly #core: CoreModels;
  readonly #learned: LearnedStates | undefined;
  #apps = new Map<string, AppRoute>();
  #current = new Map<string, string>();
  readonly #registered = new Map<string, Registered>();

  /** Without `learned` (unit tests of routing alone), every app runs the default policy. */
  constructor(core: CoreModels, learned?: LearnedStates) {
    this.#core = core;
    this.#learned = learned;
  }

  app(name: string): AppRoute | undefined {
    return this.#apps.get(name);
  }

  apps(): AppRoute[] {
    return [...this.#apps.values()];
  }

  /** What `app`'s policy holds for `uid`, per linked model: its number, feedback count and recent loss. */
  view(app: AppRoute, uid: string): ModelView[] {
    const policy = this.#learned?.policy(app.name);
    if (!policy || !this.#learned) return [];
    return policy.view(this.#learned.state(app.name, uid), app.linked_models);
  }

  /** The app's policy and its params; the default policy when none is configured. */
  spec(app: AppRoute): PolicySpec {
    return this.#learned?.spec(app.name) ?? { policy: "default", params: DEFAULT_PARAMS };
  }

  /** Whether one drawn model answers the app's queries, or all its members combined. */
  mode(app: AppRoute): PolicyMode {
    return this.#learned?.policy(app.name)?.mode ?? "one";
  }

  /**
   * The model version that answers `app`'s queries under the default policy: the first linked model at
   * `version` when pinned, else at its current version. Undefined when no model is linked or it has no
   * version; throws `version_not_found` for a pinned version that does not exist.
   */
  target(app: AppRoute, version?: string): Target | undefined {
    const model = app.linked_models[0];
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

  /** The app's members: its linked models that have a current version, in link order. */
  members(app: AppRoute): Member[] {
    return app.linked_models.flatMap((model_name) => {
      const version = this.#current.get(model_name);
      const label = `${model_name}:${version}`;
      const registered = version === undefined ? undefined : this.#registered.get(label);
      return registered ? [{ model_name, core_model: registered.id, label }] : [];
    });
  }

  /** The policy's numbers for `uid` over `members`: draw probabilities or combination weights. */
  weights(app: AppRoute, members: readonly Member[], uid: string): number[] {
    const policy = this.#learned?.policy(app.name);
    if (!policy || !this.#learned) return members.map((_, i) => i === 0 ? 1 : 0);
    return policy.snapshot(this.#learned.state(app.name, uid), members.map((m) => m.model_name));
  }

  /** The member a "one" policy draws for `uid`'s query, as the core draws it. */
  drawMember(app: AppRoute, uid: string, rng: Rng): Member | undefined {
    const members = this.members(app);
    return members.length === 0 ? undefined : members[draw(this.weights(app, members, uid), rng)];
  }

  /**
   * Folds one feedback's losses (by model name) into what `app`'s policy learned for `uid`, and hands the
   * core that user's new numbers before returning, so the user's next query is served with them.
   */
  learn(app: AppRoute, uid: string, losses: ReadonlyMap<string, number>): void {
    if (!this.#learned) return;
    const members = this.members(app);
    this.#learned.learn(app.name, uid, members.map((m) => m.model_name), losses);
    if (this.spec(app).policy === "default") return;
    this.#core.setUserWeights(app.name, uid, this.weights(app, members, uid));
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
      const fingerprint =
        `${v.input_type}/${v.batch_size}/${v.batching}/${v.batch_delay_micros}/${objective}`;
      if (this.#registered.get(label)?.fingerprint === fingerprint) continue;
      const id = this.#core.configureModel(
        v.model_name,
        v.model_version,
        v.input_type,
        v,
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
    this.#learned?.configure(state.apps);
    this.#core.publishApps(state.apps.flatMap((app) => this.#nativeApp(app)));
  }

  /** The app as the native query port answers it; none when its route cannot be resolved now. */
  #nativeApp(app: AppRoute): NativeApp[] {
    const base = {
      name: app.name,
      input_type: INPUT_TYPE_IDS[app.input_type],
      default_output: app.default_output,
      latency_slo_micros: app.latency_slo_micros,
    };
    const spec = this.spec(app);
    const members = this.members(app);
    // With no member yet, a policy app answers as one with no model: the default output.
    if (spec.policy !== "default" && members.length > 0) {
      const users: Record<string, number[]> = {};
      for (const uid of this.#learned?.users(app.name) ?? []) users[uid] = this.weights(app, members, uid);
      return [{
        ...base,
        target: null,
        selection: {
          mode: this.mode(app),
          combine: spec.policy === "exp4" ? spec.params.combine : "vote",
          min_confidence: spec.policy === "exp4" ? spec.params.min_confidence : 0,
          members: members.map((m) => ({ model: m.core_model, label: m.label })),
          weights: this.weights(app, members, SHARED_UID),
          users,
        },
      }];
    }
    let target: Target | undefined;
    try {
      target = this.target(app);
    } catch {
      return [];
    }
    return [{ ...base, target: target ? { model: target.core_model, label: target.label } : null }];
  }
}

const DEFAULT_PARAMS = parseDefault();

function parseDefault() {
  const parsed = parsePolicy("default", {});
  if (!parsed.ok || parsed.policy !== "default") throw new Error("The default policy's params do not parse");
  return parsed.params;
}
