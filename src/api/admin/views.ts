/**
 * Response shapes of the management API's reads, field for field as the original Clipper's
 * `redis_*_metadata_to_json` emitted them, plus the few fields we add (named below), so the original
 * Python admin client reads them unchanged.
 *
 * Owns the JSON shapes only; must not read the store or the core itself.
 */

import type { ReplicaSnapshot } from "../../core/core.ts";
import type { StateData } from "../../state/store.ts";
import { versionLabel } from "../../state/store.ts";

/**
 * A connected model replica, as the serving core reports it (`deps.replicas`). The original's container
 * record had `model_id`, `model_name`, `model_version`, `model_replica_id`, `zmq_connection_id` and
 * `input_type`; `model_id` is derived here, and the two timestamps are ours.
 */
export type ReplicaInfo = Pick<
  ReplicaSnapshot,
  | "model_name"
  | "model_version"
  | "model_replica_id"
  | "zmq_connection_id"
  | "input_type"
  | "connected_at_ms"
  | "last_seen_ms"
>;

/** The original's readable names: it answered `"integers"` where we store `"ints"`. */
export function wireInputType(type: string): string {
  return type === "ints" ? "integers" : type;
}

/** `get_application`, `get_all_applications {verbose: true}`; `policy` is ours (the original stored it). */
export function appView(data: StateData, name: string) {
  const app = data.apps[name]!;
  return {
    input_type: wireInputType(app.input_type),
    default_output: app.default_output,
    latency_slo_micros: app.latency_slo_micros,
    name,
    linked_models: data.links[name] ?? [],
    policy: app.policy,
  };
}

/** `get_model`, `get_all_models {verbose: true}`; `batch_size` and `container_command` are ours. */
export function modelView(data: StateData, label: string) {
  const v = data.versions[label]!;
  return {
    model_name: v.model_name,
    model_version: v.model_version,
    input_type: wireInputType(v.input_type),
    labels: v.labels,
    container_name: v.container_name,
    model_data_path: v.model_data_path,
    is_current_version: data.current_versions[v.model_name] === v.model_version,
    batch_size: v.batch_size,
    batching: v.batching,
    batch_delay_micros: v.batch_delay_micros,
    container_command: v.container_command,
  };
}

/** `get_container`, `get_all_containers {verbose: true}`. */
export function containerView(r: ReplicaInfo) {
  return {
    model_id: versionLabel(r.model_name, r.model_version),
    model_name: r.model_name,
    model_version: r.model_version,
    model_replica_id: r.model_replica_id,
    zmq_connection_id: r.zmq_connection_id,
    input_type: wireInputType(r.input_type),
    connected_at_ms: r.connected_at_ms,
    last_seen_ms: r.last_seen_ms,
  };
}

/** `get_all_containers {verbose: false}`: `name:version:replica_id`. */
export function containerId(r: ReplicaInfo): string {
  return `${versionLabel(r.model_name, r.model_version)}:${r.model_replica_id}`;
}
