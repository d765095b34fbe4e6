/**
 * Configuration state: applications, model versions, current versions and links, with the business rules
 * that keep them consistent. The rules live here once (`State`, the one `StateStore`); a backend only
 * stores a snapshot atomically and announces committed changes, so every backend (embedded, Redis) behaves
 * the same.
 *
 * Must not know about HTTP: failures are `ClipperError`s that the APIs map to responses.
 */

import { ClipperError } from "../errors.ts";
import type { CoreInputType, ModelBatching } from "../core/core.ts";

export const DEFAULT_POLICY = "DefaultOutputSelectionPolicy";

export interface AppRecord {
  readonly name: string;
  readonly input_type: CoreInputType;
  readonly default_output: string;
  readonly latency_slo_micros: number;
  /** The selection policy's name; the default one is stored under the original's name, DEFAULT_POLICY. */
  readonly policy: string;
  /** The policy's parameters as given (validated by `src/policy/params.ts` before they are stored). */
  readonly policy_params: Readonly<Record<string, unknown>>;
}

/** A model version; its batching (`ModelBatching`) is what `set_model_batching` changes. */
export interface ModelVersionRecord extends ModelBatching {
  readonly model_name: string;
  readonly model_version: string;
  readonly labels: readonly string[];
  readonly input_type: CoreInputType;
  readonly container_name: string;
  readonly model_data_path: string;
  /** How the container manager starts a replica as a local process; empty when replicas run elsewhere. */
  readonly container_command: readonly string[];
}

/** How many replicas of a version the container manager keeps running, and on which GPUs. */
export interface ReplicaPlan {
  readonly num_replicas: number;
  /** Replica i gets `CUDA_VISIBLE_DEVICES=gpus[i % gpus.length]`; "" pins a replica to the CPU. */
  readonly gpus: readonly string[];
}

/** The whole configuration, as one value. */
export interface StateData {
  apps: Record<string, AppRecord>;
  /** Keyed by `name:version`. */
  versions: Record<string, ModelVersionRecord>;
  /** Model name → current version. */
  current_versions: Record<string, string>;
  /** App name → linked model names. */
  links: Record<string, string[]>;
  /** `name:version` → replicas the container manager keeps running. */
  replicas: Record<string, ReplicaPlan>;
}

export function emptyState(): StateData {
  return { apps: {}, versions: {}, current_versions: {}, links: {}, replicas: {} };
}

/**
 * One committed change, announced after the commit. `resync` means "something changed that this process
 * did not make" (another frontend sharing the store, or writes missed while disconnected): re-read it all.
 */
export type StateChange =
  | { readonly kind: "app_added"; readonly app: AppRecord }
  | { readonly kind: "app_deleted"; readonly name: string; readonly unlinked_models: readonly string[] }
  | { readonly kind: "app_policy_set"; readonly app: AppRecord }
  | { readonly kind: "model_version_added"; readonly version: ModelVersionRecord }
  | { readonly kind: "model_batching_set"; readonly version: ModelVersionRecord }
  | { readonly kind: "current_version_set"; readonly model_name: string; readonly model_version: string }
  | {
    readonly kind: "model_version_deleted";
    readonly model_name: string;
    readonly model_version: string;
    readonly was_current: boolean;
  }
  | { readonly kind: "links_added"; readonly app_name: string; readonly model_names: readonly string[] }
  | { readonly kind: "links_deleted"; readonly app_name: string; readonly model_names: readonly string[] }
  | {
    readonly kind: "replicas_set";
    readonly model_name: string;
    readonly model_version: string;
    readonly plan: ReplicaPlan;
  }
  | { readonly kind: "resync" };

export type StateListener = (change: StateChange) => void;

/** The configuration store the APIs and the routing layer use, whatever backend holds the data. */
export interface StateStore {
  /** The whole configuration, as a copy (for rebuilding a routing table in one read). */
  read(): Promise<StateData>;
  addApp(app: AppRecord): Promise<void>;
  getApp(name: string): Promise<AppRecord | undefined>;
  /** Removes an application and its links. */
  deleteApp(name: string): Promise<void>;
  /** Registers a model version and makes it the model's current version. */
  addModelVersion(record: ModelVersionRecord): Promise<void>;
  setCurrentVersion(name: string, version: string): Promise<void>;
  /** Removes a version; if it was current, links to its model resolve to nothing until one is set. */
  deleteModelVersion(name: string, version: string): Promise<void>;
  /** Changes how a model version's queries are batched (the fields given; the others stay). */
  setModelBatching(name: string, version: string, changes: Partial<ModelBatching>): Promise<void>;
  /** Changes an app's selection policy and its parameters. */
  setAppPolicy(name: string, policy: string, policy_params: Readonly<Record<string, unknown>>): Promise<void>;
  addLinks(appName: string, models: readonly string[]): Promise<void>;
  deleteLinks(appName: string, models: readonly string[]): Promise<void>;
  /** The models linked to an app; `app_not_found` if there is no such app. */
  getLinks(appName: string): Promise<string[]>;
  /** Calls `listener` after every committed change; returns a function that stops it. */
  subscribe(listener: StateListener): () => void;
}

/**
 * What selection policies learned, as stored: app → uid → the policy's state (JSON). Kept apart from the
 * configuration: it changes with every feedback, so it is written in batches rather than per change.
 */
export type Learned = Record<string, Record<string, unknown>>;

/**
 * A batch of learned states to store: app → uid → state, or app → null to forget everything an app learned
 * (the app was deleted).
 */
export type LearnedBatch = Record<string, Record<string, unknown> | null>;

/** What a state backend provides: an atomic read-modify-write of the snapshot and a change feed. */
export interface StateBackend {
  read(): Promise<StateData>;
  /**
   * Runs `mutate` on a copy of the state and commits it atomically, then announces the change it returns;
   * if it throws, nothing changes and nothing is announced.
   */
  update(mutate: (data: StateData) => StateChange): Promise<StateChange>;
  /** Calls `listener` after every committed change (from this process or, for shared backends, others). */
  subscribe(listener: StateListener): () => void;
  /** False while the backend cannot accept writes (a shared store that is unreachable). */
  healthy(): boolean;
  /** Every app's learned policy states. */
  loadLearned(): Promise<Learned>;
  /** Stores a batch of learned states durably before it resolves. */
  saveLearned(batch: LearnedBatch): Promise<void>;
  close(): Promise<void>;
}

export const versionLabel = (name: string, version: string) => `${name}:${version}`;

function app(data: StateData, name: string, action: string): AppRecord {
  const found = data.apps[name];
  if (!found) {
    throw new ClipperError("app_not_found", `Cannot ${action}: application "${name}" does not exist`);
  }
  return found;
}

/** The rules of configuration, over any backend. */
export class State implements StateStore {
  constructor(readonly backend: StateBackend) {}

  read(): Promise<StateData> {
    return this.backend.read();
  }

  subscribe(listener: StateListener): () => void {
    return this.backend.subscribe(listener);
  }

  async getApp(name: string): Promise<AppRecord | undefined> {
    return (await this.read()).apps[name];
  }

  async getLinks(appName: string): Promise<string[]> {
    const data = await this.read();
    app(data, appName, `list the models linked to "${appName}"`);
    return data.links[appName] ?? [];
  }

  async addApp(record: AppRecord): Promise<void> {
    await this.backend.update((data) => {
      if (data.apps[record.name]) {
        throw new ClipperError("app_exists", `Cannot add application "${record.name}": it already exists`);
      }
      data.apps[record.name] = record;
      data.links[record.name] = [];
      return { kind: "app_added", app: record };
    });
  }

  /** Removes an application and its links. */
  async deleteApp(name: string): Promise<void> {
    await this.backend.update((data) => {
      app(data, name, `delete application "${name}"`);
      const unlinked_models = data.links[name] ?? [];
      delete data.apps[name];
      delete data.links[name];
      return { kind: "app_deleted", name, unlinked_models };
    });
  }

  /** Registers a model version and makes it the model's current version. */
  async addModelVersion(record: ModelVersionRecord): Promise<void> {
    await this.backend.update((data) => {
      const label = versionLabel(record.model_name, record.model_version);
      if (data.versions[label]) {
        throw new ClipperError("model_exists", `Cannot add model "${label}": that version already exists`);
      }
      for (const [appName, models] of Object.entries(data.links)) {
        const linked = data.apps[appName];
        if (linked && models.includes(record.model_name) && linked.input_type !== record.input_type) {
          throw new ClipperError(
            "input_type_mismatch",
            `Cannot add model "${label}" with input type "${record.input_type}": it is linked to application "${appName}", which takes "${linked.input_type}"`,
          );
        }
      }
      data.versions[label] = record;
      data.current_versions[record.model_name] = record.model_version;
      return { kind: "model_version_added", version: record };
    });
  }

  async setModelBatching(name: string, version: string, changes: Partial<ModelBatching>): Promise<void> {
    await this.backend.update((data) => {
      const label = versionLabel(name, version);
      const record = data.versions[label];
      if (!record) {
        throw new ClipperError(
          "model_not_found",
          `Cannot set the batching of model "${label}": no such version`,
        );
      }
      const updated = { ...record, ...changes };
      data.versions[label] = updated;
      return { kind: "model_batching_set", version: updated };
    });
  }

  async setCurrentVersion(name: string, version: string): Promise<void> {
    await this.backend.update((data) => {
      if (!data.versions[versionLabel(name, version)]) {
        throw new ClipperError(
          "model_not_found",
          `Cannot set version "${version}" of model "${name}" as current: no such version`,
        );
      }
      data.current_versions[name] = version;
      return { kind: "current_version_set", model_name: name, model_version: version };
    });
  }

  /** Removes a model version; if it was current, the model has no current version until one is set. */
  async deleteModelVersion(name: string, version: string): Promise<void> {
    await this.backend.update((data) => {
      const label = versionLabel(name, version);
      if (!data.versions[label]) {
        throw new ClipperError("model_not_found", `Cannot delete model "${label}": no such version`);
      }
      delete data.versions[label];
      delete data.replicas[label];
      const was_current = data.current_versions[name] === version;
      if (was_current) delete data.current_versions[name];
      return { kind: "model_version_deleted", model_name: name, model_version: version, was_current };
    });
  }

  /** Sets how many replicas of a version the container manager runs (0 stops them all). */
  async setReplicas(name: string, version: string, plan: ReplicaPlan): Promise<void> {
    await this.backend.update((data) => {
      const label = versionLabel(name, version);
      const record = data.versions[label];
      if (!record) {
        throw new ClipperError("model_not_found", `Cannot scale model "${label}": no such version`);
      }
      if (plan.num_replicas > 0 && record.container_command.length === 0) {
        throw new ClipperError(
          "invalid_request",
          `Cannot start replicas of "${label}": it was added without a "container_command"`,
        );
      }
      data.replicas[label] = plan;
      return { kind: "replicas_set", model_name: name, model_version: version, plan };
    });
  }

  async setAppPolicy(
    name: string,
    policy: string,
    policy_params: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    await this.backend.update((data) => {
      const updated = { ...app(data, name, `set the policy of "${name}"`), policy, policy_params };
      data.apps[name] = updated;
      return { kind: "app_policy_set", app: updated };
    });
  }

  /**
   * Links models to an app. The original linked at most one; several make a multi-model app, whose policy
   * chooses among them. Every model needs a current version of the app's input type, once.
   */
  async addLinks(appName: string, models: readonly string[]): Promise<void> {
    await this.backend.update((data) => {
      const target = app(data, appName, `link models to "${appName}"`);
      if (models.length === 0) {
        throw new ClipperError("invalid_request", `Cannot link models to "${appName}": no model was named`);
      }
      const existing = data.links[appName] ?? [];
      for (const [i, model] of models.entries()) {
        const version = data.current_versions[model];
        const record = version === undefined ? undefined : data.versions[versionLabel(model, version)];
        if (!record) {
          throw new ClipperError(
            "model_not_found",
            `Cannot link model "${model}": it has no current version`,
          );
        }
        if (record.input_type !== target.input_type) {
          throw new ClipperError(
            "input_type_mismatch",
            `Cannot link model "${model}" with input type "${record.input_type}" to application "${appName}", which takes "${target.input_type}"`,
          );
        }
        if (existing.includes(model) || models.indexOf(model) !== i) {
          throw new ClipperError(
            "invalid_request",
            `Cannot link model "${model}" to "${appName}": it is already linked`,
          );
        }
      }
      data.links[appName] = [...existing, ...models];
      return { kind: "links_added", app_name: appName, model_names: [...models] };
    });
  }

  async deleteLinks(appName: string, models: readonly string[]): Promise<void> {
    await this.backend.update((data) => {
      app(data, appName, `unlink models from "${appName}"`);
      const existing = data.links[appName] ?? [];
      for (const model of models) {
        if (!existing.includes(model)) {
          throw new ClipperError(
            "link_not_found",
            `Cannot unlink model "${model}": it is not linked to "${appName}"`,
          );
        }
      }
      data.links[appName] = existing.filter((m) => !models.includes(m));
      return { kind: "links_deleted", app_name: appName, model_names: [...models] };
    });
  }
}
