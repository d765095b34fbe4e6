/**
 * Configuration state: applications, model versions, current versions and links, with the business rules
 * that keep them consistent. The rules live here once; a backend only stores a snapshot atomically and
 * announces changes, so every backend (embedded now, Redis later) behaves the same.
 *
 * Must not know about HTTP: failures are `ClipperError`s that the APIs map to responses.
 */

import { ClipperError } from "../errors.ts";
import type { CoreInputType } from "../core/core.ts";

export const DEFAULT_POLICY = "DefaultOutputSelectionPolicy";

export interface AppRecord {
  readonly name: string;
  readonly input_type: CoreInputType;
  readonly default_output: string;
  readonly latency_slo_micros: number;
  readonly policy: string;
}

export interface ModelVersionRecord {
  readonly model_name: string;
  readonly model_version: string;
  readonly labels: readonly string[];
  readonly input_type: CoreInputType;
  readonly container_name: string;
  readonly model_data_path: string;
  /** −1 for adaptive batching, else ≥ 1. */
  readonly batch_size: number;
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
}

export function emptyState(): StateData {
  return { apps: {}, versions: {}, current_versions: {}, links: {} };
}

/** What a state backend provides: an atomic read-modify-write of the snapshot and a change feed. */
export interface StateBackend {
  read(): Promise<StateData>;
  /** Runs `mutate` on a copy of the state and commits it atomically; if it throws, nothing changes. */
  update<T>(mutate: (data: StateData) => T): Promise<T>;
  /** Calls `listener` after every committed change (from this process or, for shared backends, others). */
  subscribe(listener: () => void): () => void;
  /** False while the backend cannot accept writes (a shared store that is unreachable). */
  healthy(): boolean;
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
export class State {
  constructor(readonly backend: StateBackend) {}

  read(): Promise<StateData> {
    return this.backend.read();
  }

  subscribe(listener: () => void): () => void {
    return this.backend.subscribe(listener);
  }

  addApp(record: AppRecord): Promise<void> {
    return this.backend.update((data) => {
      if (data.apps[record.name]) {
        throw new ClipperError("app_exists", `Cannot add application "${record.name}": it already exists`);
      }
      data.apps[record.name] = record;
      data.links[record.name] = [];
    });
  }

  /** Removes an application and its links. */
  deleteApp(name: string): Promise<void> {
    return this.backend.update((data) => {
      app(data, name, `delete application "${name}"`);
      delete data.apps[name];
      delete data.links[name];
    });
  }

  /** Registers a model version and makes it the model's current version. */
  addModelVersion(record: ModelVersionRecord): Promise<void> {
    return this.backend.update((data) => {
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
    });
  }

  setCurrentVersion(name: string, version: string): Promise<void> {
    return this.backend.update((data) => {
      if (!data.versions[versionLabel(name, version)]) {
        throw new ClipperError(
          "model_not_found",
          `Cannot set version "${version}" of model "${name}" as current: no such version`,
        );
      }
      data.current_versions[name] = version;
    });
  }

  /** Removes a model version; if it was current, the model has no current version until one is set. */
  deleteModelVersion(name: string, version: string): Promise<void> {
    return this.backend.update((data) => {
      const label = versionLabel(name, version);
      if (!data.versions[label]) {
        throw new ClipperError("model_not_found", `Cannot delete model "${label}": no such version`);
      }
      delete data.versions[label];
      if (data.current_versions[name] === version) delete data.current_versions[name];
    });
  }

  /** Links a model to an app. As in the original, an app links at most one model. */
  addLinks(appName: string, models: readonly string[]): Promise<void> {
    return this.backend.update((data) => {
      const target = app(data, appName, `link models to "${appName}"`);
      if (models.length !== 1) {
        throw new ClipperError(
          "invalid_request",
          `Cannot link ${models.length} models to "${appName}": an application links exactly one model`,
        );
      }
      const model = models[0]!;
      const version = data.current_versions[model];
      const record = version === undefined ? undefined : data.versions[versionLabel(model, version)];
      if (!record) {
        throw new ClipperError("model_not_found", `Cannot link model "${model}": it has no current version`);
      }
      if (record.input_type !== target.input_type) {
        throw new ClipperError(
          "input_type_mismatch",
          `Cannot link model "${model}" with input type "${record.input_type}" to application "${appName}", which takes "${target.input_type}"`,
        );
      }
      const existing = data.links[appName] ?? [];
      if (existing.length > 0) {
        throw new ClipperError(
          "invalid_request",
          `Cannot link model "${model}" to "${appName}": model "${existing[0]}" is already linked`,
        );
      }
      data.links[appName] = [model];
    });
  }

  deleteLinks(appName: string, models: readonly string[]): Promise<void> {
    return this.backend.update((data) => {
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
    });
  }
}
