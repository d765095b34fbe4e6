/**
 * Keeps the routing table in step with the state store: loads everything at start-up, then reloads after
 * every committed change the store announces. Reloads never overlap; changes that arrive during one are
 * folded into a single follow-up reload, so a burst of admin writes costs at most two reloads.
 *
 * Owns the translation from stored records to `RoutingState`. Must not write to the store.
 */

import type { State, StateData } from "../state/store.ts";
import type { Routes, RoutingState } from "./routes.ts";

/** The routing view of a state snapshot. */
export function routingState(data: StateData): RoutingState {
  return {
    apps: Object.values(data.apps).map((app) => ({
      name: app.name,
      input_type: app.input_type,
      default_output: app.default_output,
      latency_slo_micros: app.latency_slo_micros,
      policy: app.policy,
      policy_params: app.policy_params,
      linked_models: data.links[app.name] ?? [],
    })),
    versions: Object.values(data.versions),
    current_versions: new Map(Object.entries(data.current_versions)),
  };
}

/**
 * Loads the routing table now and after every change, then calls `applied` with what it applied;
 * returns a function that stops following.
 */
export async function syncRoutes(
  store: State,
  routes: Routes,
  applied: (state: RoutingState, data: StateData) => void = () => {},
): Promise<() => void> {
  const load = async () => {
    const data = await store.read();
    const state = routingState(data);
    routes.apply(state);
    applied(state, data);
  };
  await load();
  let running: Promise<void> | undefined;
  let again = false;
  const reload = async () => {
    do {
      again = false;
      try {
        await load();
      } catch (err) {
        console.error(`Cannot reload the routing table: ${(err as Error).message}`);
      }
    } while (again);
    running = undefined;
  };
  return store.subscribe(() => {
    if (running) {
      again = true;
      return;
    }
    running = reload();
  });
}
